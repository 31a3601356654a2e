using Jobsd.Queue.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Jobsd.Daemon.Health;

/// <summary>Alive while every background loop keeps completing passes; names the wedged ones.</summary>
public sealed class LoopsHealthCheck(LoopHealth loops) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var stale = loops.StaleLoops();
        return Task.FromResult(stale.Count == 0
            ? HealthCheckResult.Healthy($"{loops.Names.Count} loops passing")
            : HealthCheckResult.Unhealthy("stale: " + string.Join("; ", stale)));
    }
}
