using Jobsd.Data;
using Jobsd.Queue;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.TestSupport;

/// <summary>A jobsd engine in-process (one node) on a test database, with short intervals; the caller registers its job kinds.</summary>
public sealed class NodeHost : IAsyncDisposable
{
    private readonly IHost _host;

    private NodeHost(IHost host, CapturingLoggerProvider logs)
    {
        _host = host;
        Logs = logs;
    }

    public IServiceProvider Services => _host.Services;
    public JobClient Client => Services.GetRequiredService<JobClient>();
    public string Node => Services.GetRequiredService<NodeIdentity>().Name;

    /// <summary>Every log entry of this node, with its scope.</summary>
    public CapturingLoggerProvider Logs { get; }

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

    public static async Task<NodeHost> StartAsync(string connectionString, Action<IServiceCollection> services, Action<QueueOptions>? configure = null, TimeProvider? clock = null)
    {
        var logs = new CapturingLoggerProvider();
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
        services(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        var engine = host.Services.GetRequiredService<QueueEngine>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        while (!engine.IsStarted && !stopping.IsCancellationRequested && DateTime.UtcNow < deadline) await Task.Delay(20);
        return new NodeHost(host, logs);
    }

    public Task StopAsync() => _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
