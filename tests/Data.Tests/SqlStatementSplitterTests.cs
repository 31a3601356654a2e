using Jobsd.Data.Migrations;

namespace Jobsd.Data.Tests;

public sealed class SqlStatementSplitterTests
{
    [Fact]
    public void Splits_at_top_level_semicolons_and_drops_empty_statements()
    {
        var parts = SqlStatementSplitter.Split("select 1; ;\n select 2;\n-- trailing comment\n");
        Assert.Equal(["select 1", "select 2"], parts.Select(p => p.Text).ToList());
        Assert.Equal(13, parts[1].Offset);
    }

    [Fact]
    public void Keeps_semicolons_inside_quotes_identifiers_comments_and_dollar_bodies()
    {
        const string sql = """
            select 'a;b', E'c\';d', "x;y" from t; -- not; a split
            /* block; /* nested; */ still comment; */ select 2;
            create function f() returns int language plpgsql as $body$ begin perform 1; return 2; end; $body$;
            select $$;$$, $1;
            """;
        var parts = SqlStatementSplitter.Split(sql);
        Assert.Equal(4, parts.Count);
        Assert.Contains("still comment; */ select 2", parts[1].Text);
        Assert.EndsWith("$body$", parts[2].Text);
        Assert.Equal("select $$;$$, $1", parts[3].Text);
    }

    [Fact]
    public void Reports_one_based_line_and_column()
    {
        Assert.Equal((3, 2), SqlStatementSplitter.LineAndColumn("a\nb\ncd", 5));
    }
}
