using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Queue.Tests;

/// <summary>Several engines on one database, as several hosts would run them.</summary>
public sealed class MultiNodeTests : DatabaseTest
{
    [Fact]
    public async Task Three_nodes_run_ten_thousand_jobs_each_exactly_once_and_never_concurrently()
    {
        const int jobs = 10_000;
        var nodes = new List<EngineHost>();
        for (var i = 0; i < 3; i++) nodes.Add(await EngineHost.StartAsync(Db, o => o.Queues = new() { ["default"] = new QueueSettings { Workers = 8 } }));
        try
        {
            await using (var c = await Db.DataSource.OpenConnectionAsync())
            {
                // A second run of any job would violate this: the evidence that no job ran twice.
                await c.ExecuteAsync("create unique index test_runs_once on test_runs (key)");
            }
            await nodes[0].Client.EnqueueManyAsync(Enumerable.Range(0, jobs).Select(i => new TestArgs($"j{i}")));

            var deadline = DateTime.UtcNow.AddMinutes(5);
            while (await Db.ScalarAsync("select count(*) from queue.jobs where state = 'succeeded'") < jobs && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            Assert.Equal(jobs, await Db.ScalarAsync("select count(*) from queue.jobs where state = 'succeeded'"));
            Assert.Equal(jobs, await Db.ScalarAsync("select count(*) from test_runs"));
            Assert.Equal(0, await Db.ScalarAsync("select count(*) from queue.jobs where attempt <> 1 or errors <> '[]'"));
            // Work was shared: every node ran some of it.
            Assert.Equal(3, await Db.ScalarAsync("select count(distinct node) from test_runs"));
            Assert.Equal(1, await Db.ScalarAsync("select count(*) from queue.leader"));
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task When_the_leader_stops_another_node_takes_over_maintenance()
    {
        var first = await EngineHost.StartAsync(Db);
        await using var second = await EngineHost.StartAsync(Db);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await Db.ScalarAsync("select count(*) from queue.leader") == 0 && DateTime.UtcNow < deadline) await Task.Delay(25);
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            var leader = await c.ExecuteScalarAsync<string>("select node from queue.leader");
            var stopping = leader == first.Node ? first : second;
            var staying = stopping == first ? second : first;
            await stopping.DisposeAsync();
            // Resignation is announced, so the other node leads at once, not after the TTL.
            while (await c.ExecuteScalarAsync<string?>("select node from queue.leader") != staying.Node && DateTime.UtcNow < deadline) await Task.Delay(25);
            Assert.Equal(staying.Node, await c.ExecuteScalarAsync<string>("select node from queue.leader"));
            // And the new leader schedules: a delayed job still runs.
            var (id, _) = await staying.Client.ScheduleAsync(new TestArgs("after-failover"), TimeSpan.FromMilliseconds(300));
            await Db.WaitForStateAsync(id, "succeeded");
            if (stopping != first) await first.DisposeAsync();
        }
    }
}
