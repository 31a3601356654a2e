using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Queue.Tests;

/// <summary>
/// The hot-path statements use their indexes. Sequential scans are disabled for the check so the
/// answer does not depend on the table being small; a plan that still scans the table means no
/// usable index exists. Completion may go by primary key or by this node's processing jobs
/// (a handful of rows either way).
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
    [InlineData("complete", "jobs_pkey|jobs_processing_idx")]
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
                errors = new string?[] { null }, reasons = new string?[] { null }, uncount = new[] { false }, node = "n",
            }),
        };
        Assert.Matches($"Index (Only )?Scan (Backward )?using ({index}) on jobs", plan);
        Assert.DoesNotContain("Seq Scan on jobs", plan);
    }
}
