using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

/// <summary>Operators tune a kind in configuration without a release.</summary>
public sealed class KindOverrideTests : DatabaseTest
{
    [Fact]
    public async Task Configured_attempts_and_retry_delays_override_what_the_code_registered()
    {
        await using var jobsd = JobsdProcess.Start(["run"], new Dictionary<string, string?>
        {
            ["JOBSD_ConnectionStrings__Postgres"] = Db.ConnectionString,
            ["JOBSD_Urls"] = "http://127.0.0.1:0",
            ["JOBSD_Queue__Kinds__noop__MaxAttempts"] = "2",
            ["JOBSD_Queue__Kinds__noop__RetryDelays__0"] = "00:00:00",
            ["JOBSD_Queue__SchedulerInterval"] = "00:00:00.100",
        });
        await jobsd.WaitForOutputAsync("Engine started", TimeSpan.FromSeconds(60));
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(2, await c.ExecuteScalarAsync<int>("select max_attempts from queue.kinds where kind = 'noop'"));

        var id = await c.ExecuteScalarAsync<long>("select queue.enqueue('noop', '{\"fail_attempts\": 5}')");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await c.ExecuteScalarAsync<string>("select state from queue.jobs where id = @id", new { id }) != "failed" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal("failed", await c.ExecuteScalarAsync<string>("select state from queue.jobs where id = @id", new { id }));
        Assert.Equal(2, await c.ExecuteScalarAsync<int>("select attempt from queue.jobs where id = @id", new { id }));
    }

    [Theory]
    [InlineData("JOBSD_Queue__Kinds__nosuch__MaxAttempts", "3", "Queue:Kinds:nosuch: no handler is registered for kind 'nosuch' (known: audit-partitions, build, environment.terminate, noop, reap, secrets.reencrypt, token-refresh, token.refresh)")]
    [InlineData("JOBSD_Queue__Kinds__noop__MaxAttempts", "0", "Queue:Kinds:noop:MaxAttempts: must be at least 1")]
    [InlineData("JOBSD_Queue__Kinds__noop__Queue", "Not A Queue", "Queue:Kinds:noop:Queue: 'Not A Queue' is not a queue name")]
    public async Task A_bad_kind_override_stops_start_up_with_78_naming_it(string variable, string value, string expected)
    {
        var (code, _, stderr) = await JobsdProcess.RunAsync(["run"], new Dictionary<string, string?>
        {
            ["JOBSD_ConnectionStrings__Postgres"] = Db.ConnectionString,
            ["JOBSD_Urls"] = "http://127.0.0.1:0",
            [variable] = value,
        });
        Assert.Equal(78, code);
        Assert.Contains(expected, stderr);
    }
}
