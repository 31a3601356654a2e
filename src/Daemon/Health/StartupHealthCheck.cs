using Jobsd.Data;
using Jobsd.Queue;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Jobsd.Daemon.Health;

/// <summary>Ready once the host has started every service and the database bootstrap finished.</summary>
public sealed class StartupHealthCheck(IHostApplicationLifetime lifetime, DatabaseReadiness readiness, QueueEngine engine) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested) return Task.FromResult(HealthCheckResult.Unhealthy("stopping"));
        if (!lifetime.ApplicationStarted.IsCancellationRequested) return Task.FromResult(HealthCheckResult.Unhealthy("starting"));
        if (!readiness.IsReady) return Task.FromResult(HealthCheckResult.Unhealthy(readiness.Status));
        return Task.FromResult(engine.IsStarted ? HealthCheckResult.Healthy("started") : HealthCheckResult.Unhealthy("engine starting"));
    }
}
