using Dapper;
using Jobsd.Data;
using Jobsd.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue.Tests;

/// <summary>A jobsd engine in-process (one node) on a test database, with short intervals.</summary>
internal sealed class EngineHost : IAsyncDisposable
{
    private readonly IHost _host;

    private EngineHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;
    public JobClient Client => Services.GetRequiredService<JobClient>();
    public string Node => Services.GetRequiredService<NodeIdentity>().Name;

    public static QueueOptions FastOptions() => new()
    {
        PollInterval = TimeSpan.FromMilliseconds(200),
        SchedulerInterval = TimeSpan.FromMilliseconds(100),
        RescuerInterval = TimeSpan.FromMilliseconds(200),
        HeartbeatInterval = TimeSpan.FromMilliseconds(500),
        NodeTimeout = TimeSpan.FromSeconds(3),
        LeaderTtl = TimeSpan.FromSeconds(3),
        ShutdownTimeout = TimeSpan.FromSeconds(2),
    };

    /// <summary>Every log entry of this node, with its scope.</summary>
    public CapturingLoggerProvider Logs { get; private init; } = null!;

    public static Task<EngineHost> StartAsync(TestDatabase db, Action<QueueOptions>? configure = null, Action<JobKindOptions>? testKind = null, TimeProvider? clock = null,
        Action<IServiceCollection>? services = null) =>
        StartAsync(db.ConnectionString, configure, testKind, clock, services);

    public static async Task<EngineHost> StartAsync(string connectionString, Action<QueueOptions>? configure = null, Action<JobKindOptions>? testKind = null, TimeProvider? clock = null,
        Action<IServiceCollection>? services = null)
    {
        var logs = new CapturingLoggerProvider();
        await using (var schema = NpgsqlDataSource.Create(connectionString))
        await using (var c = await schema.OpenConnectionAsync()) await c.ExecuteAsync(TestJob.Schema);
        var options = FastOptions();
        configure?.Invoke(options);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(clock ?? TimeProvider.System);
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        builder.Services.AddSingleton(new NodeIdentity());
        var readiness = new DatabaseReadiness();
        readiness.MarkReady();
        builder.Services.AddSingleton(readiness);
        builder.Services.AddJobsdQueue(options);
        builder.Services.AddJob<TestJob, TestArgs>(o =>
        {
            o.RetryDelay = _ => TimeSpan.Zero;
            testKind?.Invoke(o);
        });
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        var engine = host.Services.GetRequiredService<QueueEngine>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        while (!engine.IsStarted && !stopping.IsCancellationRequested && DateTime.UtcNow < deadline) await Task.Delay(20);
        return new EngineHost(host) { Logs = logs };
    }

    public Task StopAsync() => _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
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
