using Jobsd.Queue;
using Jobsd.Queue.Recurring;
using Microsoft.Extensions.DependencyInjection;

namespace Jobsd.Jobs;

/// <summary>How the shipped maintenance jobs are scheduled: on the maintenance queue, one run at a time, one catch-up run after downtime.</summary>
internal static class MaintenanceSchedule
{
    public const string Queue = "maintenance";

    public static IServiceCollection AddMaintenanceRecurring<TArgs>(this IServiceCollection services, string cron, TArgs args) where TArgs : IJobArgs =>
        services.AddRecurring(TArgs.Kind, cron, args, d => d with
        {
            Queue = Queue,
            Overlap = OverlapPolicy.Skip,
            Misfire = MisfirePolicy.Once,
        });
}
