using System.Text.Json;
using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

/// <summary>Real jobsd processes, killed the hard way.</summary>
public sealed class CrashRecoveryTests : DatabaseTest
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private Dictionary<string, string?> Environment() => new()
    {
        ["JOBSD_ConnectionStrings__Postgres"] = Db.ConnectionString,
        ["JOBSD_Urls"] = "http://127.0.0.1:0",
        ["JOBSD_Queue__NodeTimeout"] = "00:00:03",
        ["JOBSD_Queue__HeartbeatInterval"] = "00:00:00.500",
        ["JOBSD_Queue__RescuerInterval"] = "00:00:00.500",
        ["JOBSD_Queue__LeaderTtl"] = "00:00:03",
    };

    private async Task<T> QueryAsync<T>(string sql, object? args = null)
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<T>(sql, args) ?? throw new InvalidOperationException("no row: " + sql);
    }

    private async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_job_whose_node_is_killed_mid_run_is_rescued_and_completed_by_another_node()
    {
        await using var doomed = JobsdProcess.Start(["run"], Environment());
        await doomed.WaitForOutputAsync("Engine started", Patience);
        var id = await QueryAsync<long>("select queue.enqueue('noop', '{\"sleep_ms\": 30000}')");
        await WaitAsync(async () => await QueryAsync<string>("select state from queue.jobs where id = @id", new { id }) == "processing", "the job to start");
        var deadNode = await QueryAsync<string>("select node from queue.jobs where id = @id", new { id });

        doomed.Signal("KILL");
        await doomed.WaitForExitAsync(Patience);
        // The dead node cannot finish anything: its job now waits for a rescue.
        await QueryAsync<long>("update queue.jobs set args = '{\"sleep_ms\": 0}' where id = @id returning id", new { id });

        await using var rescuer = JobsdProcess.Start(["run"], Environment());
        await WaitAsync(async () => await QueryAsync<string>("select state from queue.jobs where id = @id", new { id }) == "succeeded", "the rescued job to succeed");

        var node = await QueryAsync<string>("select node from queue.jobs where id = @id", new { id });
        Assert.NotEqual(deadNode, node);
        Assert.Equal(2, await QueryAsync<int>("select attempt from queue.jobs where id = @id", new { id }));
        using var errors = JsonDocument.Parse(await QueryAsync<string>("select errors::text from queue.jobs where id = @id", new { id }));
        var error = Assert.Single(errors.RootElement.EnumerateArray());
        Assert.Equal("NodeLost", error.GetProperty("type").GetString());
        Assert.Equal(deadNode, error.GetProperty("node").GetString());
        Assert.Equal(0, await QueryAsync<long>("select count(*) from queue.nodes where name = @deadNode", new { deadNode }));
    }
}
