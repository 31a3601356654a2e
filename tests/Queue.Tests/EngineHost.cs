using Dapper;
using Jobsd.Data;
using Jobsd.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue.Tests;

/// <summary>A <see cref="NodeHost"/> that also runs the test kind (<see cref="TestJob"/>).</summary>
internal sealed class EngineHost : IAsyncDisposable
{
    private readonly NodeHost _node;

    private EngineHost(NodeHost node) => _node = node;

    public IServiceProvider Services => _node.Services;
    public JobClient Client => _node.Client;
    public string Node => _node.Node;
    public CapturingLoggerProvider Logs => _node.Logs;

    public static QueueOptions FastOptions() => NodeHost.FastOptions();

    public static Task<EngineHost> StartAsync(TestDatabase db, Action<QueueOptions>? configure = null, Action<JobKindOptions>? testKind = null, TimeProvider? clock = null,
        Action<IServiceCollection>? services = null) =>
        StartAsync(db.ConnectionString, configure, testKind, clock, services);

    public static async Task<EngineHost> StartAsync(string connectionString, Action<QueueOptions>? configure = null, Action<JobKindOptions>? testKind = null, TimeProvider? clock = null,
        Action<IServiceCollection>? services = null)
    {
        await using (var schema = NpgsqlDataSource.Create(connectionString))
        await using (var c = await schema.OpenConnectionAsync()) await c.ExecuteAsync(TestJob.Schema);
        var node = await NodeHost.StartAsync(connectionString, s =>
        {
            s.AddJob<TestJob, TestArgs>(o =>
            {
                o.RetryDelay = _ => TimeSpan.Zero;
                testKind?.Invoke(o);
            });
            services?.Invoke(s);
        }, configure, clock);
        return new EngineHost(node);
    }

    public Task StopAsync() => _node.StopAsync();

    public ValueTask DisposeAsync() => _node.DisposeAsync();
}

internal static class JobAssertions
{
    public sealed record JobRow(long Id, string State, int Attempt, int MaxAttempts, string Errors, string? Reason, string? Node, string Queue);

    public static async Task<JobRow> JobAsync(this TestDatabase db, long id)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return await c.QuerySingleAsync<JobRow>(
            "select id, state, attempt, max_attempts as maxattempts, errors::text as errors, reason, node, queue from queue.jobs where id = @id", new { id });
    }

    /// <summary>Polls the job's state (the database is the signal); fails with the last row seen.</summary>
    public static async Task<JobRow> WaitForStateAsync(this TestDatabase db, long id, string state, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JobRow row;
        while ((row = await db.JobAsync(id)).State != state)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"job {id} never reached {state}; last: {row}");
            await Task.Delay(25);
        }
        return row;
    }

    public static async Task<long> ScalarAsync(this TestDatabase db, string sql, object? args = null)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<long>(sql, args);
    }
}
