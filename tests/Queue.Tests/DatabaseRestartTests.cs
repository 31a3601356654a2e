using Dapper;
using Jobsd.Data.Migrations;
using Jobsd.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Jobsd.Queue.Tests;

public sealed class DatabaseRestartTests
{
    [Fact]
    public async Task Every_job_ends_succeeded_when_PostgreSQL_restarts_under_load()
    {
        await using var cluster = await PrivateCluster.StartAsync();
        var connectionString = cluster.ConnectionString();
        await using (var source = NpgsqlDataSource.Create(connectionString))
        {
            await new MigrationRunner(source, new EmbeddedScriptSource(), NullLogger<MigrationRunner>.Instance).MigrateAsync(false, CancellationToken.None);
        }
        await using var engine = await EngineHost.StartAsync(connectionString);
        const int jobs = 3_000;
        await engine.Client.EnqueueManyAsync(Enumerable.Range(0, jobs).Select(i => new TestArgs($"r{i}", SleepMs: 2)));

        await using var check = NpgsqlDataSource.Create(connectionString);
        async Task<long> Succeeded()
        {
            try
            {
                await using var c = await check.OpenConnectionAsync();
                return await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs where state = 'succeeded'");
            }
            catch (NpgsqlException)
            {
                return -1;
            }
        }
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (await Succeeded() < 300 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(await Succeeded() < jobs, "the load finished before the restart; nothing was tested");

        await cluster.RestartServerAsync();

        while (await Succeeded() < jobs && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.Equal(jobs, await Succeeded());
        await using var c = await check.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs where state <> 'succeeded'"));
    }
}
