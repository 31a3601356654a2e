using Jobsd.Queue;
using Jobsd.Queue.Recurring;
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
            o.Queue = "maintenance";
            o.Timeout = settings.TimeBudget + TimeSpan.FromMinutes(1);
            o.MaxAttempts = 3;
        });
        services.AddJob<EnvironmentTerminateJob, EnvironmentTerminateArgs>(o =>
        {
            o.Queue = "maintenance";
            o.Timeout = settings.TerminateTimeout + TimeSpan.FromSeconds(30);
            o.MaxAttempts = 10;
        });
        services.AddRecurring(ReapArgs.Kind, settings.Cron, new ReapArgs(), d => d with
        {
            Queue = "maintenance",
            Overlap = OverlapPolicy.Skip,
            Misfire = MisfirePolicy.Once,
        });
        return services;
    }
}
