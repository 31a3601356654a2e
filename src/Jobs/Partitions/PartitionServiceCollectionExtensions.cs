using Jobsd.Queue;
using Microsoft.Extensions.DependencyInjection;

namespace Jobsd.Jobs.Partitions;

public static class PartitionServiceCollectionExtensions
{
    /// <summary>The partition keeper: its job (queue maintenance), its daily schedule (UTC, overlap skip) and its run at start.</summary>
    public static IServiceCollection AddJobsdPartitions(this IServiceCollection services, PartitionSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton<PartitionKeeper>();
        services.AddJob<PartitionsJob, PartitionArgs>(o =>
        {
            o.Queue = MaintenanceSchedule.Queue;
            o.Timeout = TimeSpan.FromMinutes(30);
            o.MaxAttempts = 5;
        });
        services.AddMaintenanceRecurring(settings.Cron, new PartitionArgs());
        if (settings.RunAtStart) services.AddHostedService<PartitionsAtStart>();
        return services;
    }
}
