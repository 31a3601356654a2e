using Jobsd.Queue;
using Microsoft.Extensions.DependencyInjection;

namespace Jobsd.Jobs.Builds;

public static class BuildServiceCollectionExtensions
{
    public const string Queue = "builds";

    /// <summary>The build job (kind build, queue builds) and what it uses.</summary>
    public static IServiceCollection AddJobsdBuilds(this IServiceCollection services, BuildSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton<BuildLedger>();
        services.AddSingleton<BuildLogReader>();
        services.AddJob<BuildJob, BuildArgs>(o =>
        {
            o.Queue = Queue;
            // The build's own timeout fires first and ends it as a failed build; this one only
            // guards against a wedged runner.
            o.Timeout = settings.Timeout + TimeSpan.FromMinutes(10);
            o.MaxAttempts = settings.MaxAttempts;
        });
        return services;
    }
}
