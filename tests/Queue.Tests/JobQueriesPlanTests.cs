using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Queue.Tests;

/// <summary>
/// The hot-path statements use their indexes. Sequential scans are disabled for the check so the
/// answer does not depend on the table being small; a plan that still scans the table means no
/// usable index exists.
/// </summary>
public sealed class JobQueriesPlanTests : DatabaseTest
{
    private async Task<string> PlanAsync(string sql, object args)
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync("set local enable_seqscan = off", transaction: tx);
        var lines = await c.QueryAsync<string>("explain " + sql, args, tx);
        await tx.RollbackAsync();
        return string.Join("\n", lines);
    }

    [Theory]
    [InlineData("claim", "jobs_claim_idx")]
    [InlineData("schedule", "jobs_scheduled_idx")]
    [InlineData("rescue", "jobs_processing_idx")]
    [InlineData("prune", "jobs_finished_idx")]
    [InlineData("complete", "jobs_pkey")]
    public async Task Each_hot_path_statement_uses_its_index(string statement, string index)
    {
        var plan = statement switch
        {
            "claim" => await PlanAsync(JobQueries.Claim, new { queue = "default", limit = 10, node = "n" }),
            "schedule" => await PlanAsync(JobQueries.EnqueueDue, new { limit = 10, now = DateTimeOffset.UtcNow }),
            "rescue" => await PlanAsync(JobQueries.Rescue, new { limit = 10, nodeTimeout = TimeSpan.FromSeconds(30) }),
            "prune" => await PlanAsync(JobQueries.Prune, new { limit = 10, succeeded = TimeSpan.FromDays(1), failed = TimeSpan.FromDays(7), deleted = TimeSpan.FromDays(1), shortest = TimeSpan.FromDays(1) }),
            _ => await PlanAsync(JobQueries.Complete, new
            {
                ids = new long[] { 1 }, attempts = new[] { 1 }, states = new[] { "succeeded" }, run_ats = new DateTime?[] { null },
                errors = new string?[] { null }, reasons = new string?[] { null }, uncount = new[] { false }, results = new string?[] { null }, node = "n",
            }),
        };
        Assert.Matches($"Index (Only )?Scan (Backward )?using ({index}) on jobs", plan);
        Assert.DoesNotContain("Seq Scan on jobs", plan);
    }

    /// <summary>
    /// The failure seen in the benchmark: statistics taken with no job processing, then a
    /// backlog of processing jobs, and the completer's cached generic plan. The plan that runs
    /// (reported by auto_explain) must still look each outcome up by primary key.
    /// </summary>
    [Fact]
    public async Task Completion_goes_by_primary_key_even_with_stale_statistics_and_a_generic_plan()
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("insert into queue.jobs (kind, args) select 'noop', '{}' from generate_series(1, 3000)");
        await c.ExecuteAsync("analyze queue.jobs");
        await c.ExecuteAsync("update queue.jobs set state = 'processing', node = 'n', attempt = 1 where id in (select id from queue.jobs order by id limit 2000)");
        var ids = (await c.QueryAsync<long>("select id from queue.jobs where state = 'processing' order by id limit 500")).ToArray();

        var plans = new List<string>();
        c.Notice += (_, e) => { if (e.Notice.MessageText.Contains("Query Text", StringComparison.Ordinal)) plans.Add(e.Notice.MessageText); };
        await c.ExecuteAsync("load 'auto_explain'; set auto_explain.log_min_duration = 0; set auto_explain.log_level = notice; set plan_cache_mode = force_generic_plan");
        await using var command = new Npgsql.NpgsqlCommand(JobQueries.Complete, c);
        command.Parameters.AddWithValue("ids", ids);
        command.Parameters.AddWithValue("attempts", ids.Select(_ => 1).ToArray());
        command.Parameters.AddWithValue("states", ids.Select(_ => "succeeded").ToArray());
        command.Parameters.Add(new Npgsql.NpgsqlParameter("run_ats", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = ids.Select(_ => (DateTime?)null).ToArray() });
        command.Parameters.Add(new Npgsql.NpgsqlParameter("errors", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text) { Value = ids.Select(_ => (string?)null).ToArray() });
        command.Parameters.Add(new Npgsql.NpgsqlParameter("reasons", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text) { Value = ids.Select(_ => (string?)null).ToArray() });
        command.Parameters.AddWithValue("uncount", ids.Select(_ => false).ToArray());
        command.Parameters.Add(new Npgsql.NpgsqlParameter("results", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text) { Value = ids.Select(_ => (string?)null).ToArray() });
        command.Parameters.AddWithValue("node", "n");
        await command.PrepareAsync();
        var completed = 0;
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) completed++;
        }

        Assert.Equal(500, completed);
        var plan = Assert.Single(plans, p => p.Contains("Update on jobs", StringComparison.Ordinal));
        Assert.Contains("Index Scan using jobs_pkey on jobs", plan);
        Assert.DoesNotContain("jobs_processing_idx", plan);
    }
}
