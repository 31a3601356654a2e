namespace Jobsd.Data.Migrations;

/// <summary>One statement of a script and where it starts, so errors can name a line.</summary>
public readonly record struct SqlStatement(string Text, int Offset);

/// <summary>
/// Splits a PostgreSQL script at top-level semicolons. Quotes, quoted identifiers,
/// dollar-quoted bodies and comments are skipped over, so function bodies stay whole.
/// The runner executes statement by statement: it can then report the script line of a
/// failure, and <c>*.notx.sql</c> scripts run each statement in its own implicit
/// transaction, as <c>CREATE INDEX CONCURRENTLY</c> requires.
/// </summary>
public static class SqlStatementSplitter
{
    public static IReadOnlyList<SqlStatement> Split(string sql)
    {
        var statements = new List<SqlStatement>();
        var start = 0;
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c == '-' && Peek(sql, i + 1) == '-')
            {
                var end = sql.IndexOf('\n', i);
                i = end < 0 ? sql.Length : end + 1;
            }
            else if (c == '/' && Peek(sql, i + 1) == '*')
            {
                i = SkipBlockComment(sql, i);
            }
            else if (c == '\'')
            {
                var escapes = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !IsIdentifierChar(sql[i - 2]));
                i = SkipQuoted(sql, i, '\'', escapes);
            }
            else if (c == '"')
            {
                i = SkipQuoted(sql, i, '"', backslashEscapes: false);
            }
            else if (c == '$' && TryReadDollarTag(sql, i, out var tag))
            {
                var close = sql.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                i = close < 0 ? sql.Length : close + tag.Length;
            }
            else if (c == ';')
            {
                Add(statements, sql, start, i);
                start = i + 1;
                i++;
            }
            else
            {
                i++;
            }
        }
        Add(statements, sql, start, sql.Length);
        return statements;
    }

    /// <summary>1-based line and column of an offset, for error messages.</summary>
    public static (int Line, int Column) LineAndColumn(string text, int offset)
    {
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset && i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }
        return (line, offset - lineStart + 1);
    }

    private static void Add(List<SqlStatement> statements, string sql, int start, int end)
    {
        var text = sql[start..end];
        if (IsBlank(text)) return;
        var leading = text.Length - text.TrimStart().Length;
        statements.Add(new SqlStatement(text.Trim(), start + leading));
    }

    /// <summary>A piece with nothing but whitespace and comments is no statement.</summary>
    private static bool IsBlank(string text)
    {
        var i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i])) i++;
            else if (text[i] == '-' && Peek(text, i + 1) == '-')
            {
                var end = text.IndexOf('\n', i);
                i = end < 0 ? text.Length : end + 1;
            }
            else if (text[i] == '/' && Peek(text, i + 1) == '*') i = SkipBlockComment(text, i);
            else return false;
        }
        return true;
    }

    private static char Peek(string s, int i) => i < s.Length ? s[i] : '\0';

    private static bool IsIdentifierChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    private static int SkipBlockComment(string sql, int i)
    {
        // PostgreSQL block comments nest.
        var depth = 0;
        while (i < sql.Length)
        {
            if (sql[i] == '/' && Peek(sql, i + 1) == '*') { depth++; i += 2; }
            else if (sql[i] == '*' && Peek(sql, i + 1) == '/')
            {
                depth--;
                i += 2;
                if (depth == 0) return i;
            }
            else i++;
        }
        return i;
    }

    private static int SkipQuoted(string sql, int i, char quote, bool backslashEscapes)
    {
        i++;
        while (i < sql.Length)
        {
            if (backslashEscapes && sql[i] == '\\') { i += 2; continue; }
            if (sql[i] == quote)
            {
                if (Peek(sql, i + 1) == quote) { i += 2; continue; }
                return i + 1;
            }
            i++;
        }
        return i;
    }

    private static bool TryReadDollarTag(string sql, int i, out string tag)
    {
        tag = "";
        // A dollar quote cannot follow an identifier character ($ is legal inside identifiers).
        if (i > 0 && (IsIdentifierChar(sql[i - 1]) || sql[i - 1] == '$')) return false;
        var j = i + 1;
        while (j < sql.Length && (char.IsLetter(sql[j]) || sql[j] == '_' || (j > i + 1 && char.IsDigit(sql[j])))) j++;
        if (j >= sql.Length || sql[j] != '$') return false;
        tag = sql[i..(j + 1)];
        return true;
    }
}
