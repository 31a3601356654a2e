using Jobsd.Queue;
using Microsoft.Extensions.DependencyInjection;

namespace Jobsd.Jobs.Reaping;

public static class ReaperServiceCollectionExtensions
{
    /// <summary>The reaper's job and schedule (queue maintenance, overlap skip) and the environment terminate job.</summary>
    public static IServiceCollection AddJobsdReaper(this IServiceCollection services, ReaperSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton<Reaper>();
        services.AddJob<ReapJob, ReapArgs>(o =>
        {
            o.Queue = MaintenanceSchedule.Queue;
            o.Timeout = settings.TimeBudget + TimeSpan.FromMinutes(1);
            o.MaxAttempts = 3;
        });
        services.AddJob<EnvironmentTerminateJob, EnvironmentTerminateArgs>(o =>
        {
            o.Queue = MaintenanceSchedule.Queue;
            o.Timeout = settings.TerminateTimeout + TimeSpan.FromSeconds(30);
            o.MaxAttempts = 10;
        });
        services.AddMaintenanceRecurring(settings.Cron, new ReapArgs());
        return services;
    }
}
