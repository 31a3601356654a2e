using Jobsd.Data;
using Jobsd.Queue.Health;
using Jobsd.Queue.Maintenance;
using Jobsd.Queue.Recurring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace Jobsd.Queue;

public static class QueueServiceCollectionExtensions
{
    /// <summary>
    /// The engine and its parts. Needs an <see cref="NpgsqlDataSource"/>, a <see cref="DatabaseReadiness"/>
    /// and a <see cref="TimeProvider"/> registered. <paramref name="listenSource"/> is a direct
    /// connection for LISTEN when the main one goes through a transaction pooler.
    /// </summary>
    public static IServiceCollection AddJobsdQueue(this IServiceCollection services, QueueOptions options, NpgsqlDataSource? listenSource = null)
    {
        services.AddSingleton(options);
        services.TryAddSingleton(new NodeIdentity());
        services.TryAddSingleton<LoopHealth>();
        Registry(services);
        services.AddSingleton<JobsdMetrics>();
        services.AddSingleton<QueueDepthSampler>();
        services.AddSingleton(sp => new JobClient(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<JobRegistry>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<JobsdMetrics>()));
        services.AddSingleton<JobMonitor>();
        services.AddSingleton<ClusterMonitor>();
        services.AddSingleton<BatchCompleter>();
        services.AddSingleton<JobExecutor>();
        services.AddSingleton(sp => new PgNotifier(listenSource ?? sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<LoopHealth>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<PgNotifier>>()));
        services.AddSingleton<NodeHeartbeat>();
        services.AddSingleton<LeaderElector>();
        services.AddSingleton<JobScheduler>();
        services.AddSingleton<JobRescuer>();
        services.AddSingleton<JobPruner>();
        Catalog(services);
        services.AddSingleton(sp => new RecurringClient(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<RecurringSynchronizer>();
        services.AddSingleton<CronEnqueuer>();
        services.AddSingleton<CancelWatcher>();
        services.AddSingleton<QueueEngine>();
        services.AddHostedService(sp => sp.GetRequiredService<QueueEngine>());
        services.AddJob<NoopJob, NoopArgs>(_ => { });
        return services;
    }

    /// <summary>Registers a handler for <typeparamref name="TArgs"/>'s kind, with its options.</summary>
    public static IServiceCollection AddJob<THandler, TArgs>(this IServiceCollection services, Action<JobKindOptions> configure)
        where THandler : class, IJob<TArgs>
        where TArgs : IJobArgs
    {
        var options = new JobKindOptions();
        configure(options);
        Registry(services).Add<THandler, TArgs>(options);
        services.TryAddScoped<THandler>();
        return services;
    }

    /// <summary>
    /// Defines a recurring job in code: <paramref name="args"/> of <typeparamref name="TArgs"/>'s
    /// kind, enqueued on <paramref name="cron"/> (validated at start-up; a bad one stops the node
    /// with exit code 78). <paramref name="configure"/> adjusts zone, queue and policies.
    /// </summary>
    public static IServiceCollection AddRecurring<TArgs>(this IServiceCollection services, string name, string cron, TArgs args,
        Func<RecurringDefinition, RecurringDefinition>? configure = null) where TArgs : IJobArgs
    {
        var definition = new RecurringDefinition(name, cron, TArgs.Kind, JobArgsJson.Serialize(args), RecurringSource.Code);
        Catalog(services).Add(configure is null ? definition : configure(definition) with { Source = RecurringSource.Code });
        return services;
    }

    /// <summary>The catalog of recurring definitions, created on first use (configuration adds to it too).</summary>
    public static RecurringCatalog Catalog(IServiceCollection services) => SharedInstance<RecurringCatalog>(services);

    private static JobRegistry Registry(IServiceCollection services) => SharedInstance<JobRegistry>(services);

    /// <summary>
    /// One instance shared by every registration call (AddJob, AddRecurring) before the
    /// container exists, so each call can add to it.
    /// </summary>
    private static T SharedInstance<T>(IServiceCollection services) where T : class, new()
    {
        if (services.FirstOrDefault(d => d.ServiceType == typeof(T))?.ImplementationInstance is T existing) return existing;
        var created = new T();
        services.AddSingleton(created);
        return created;
    }
}
