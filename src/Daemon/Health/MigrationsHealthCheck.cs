using Jobsd.Data.Migrations;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Jobsd.Daemon.Health;

/// <summary>
/// Ready only while the schema matches this binary's scripts. A current result is cached
/// briefly: load balancers poll often, and the answer only changes on a deploy.
/// </summary>
public sealed class MigrationsHealthCheck(MigrationRunner migrator, TimeProvider clock) : IHealthCheck
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    private DateTimeOffset _currentUntil = DateTimeOffset.MinValue;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (clock.GetUtcNow() < _currentUntil) return HealthCheckResult.Healthy("current");
        try
        {
            var plan = await migrator.PlanAsync(cancellationToken);
            if (plan.IsCurrent)
            {
                _currentUntil = clock.GetUtcNow() + CacheFor;
                return HealthCheckResult.Healthy("current");
            }
            var pending = plan.Pending.Select(p => p.ToString()).Concat(plan.ChangedOneTimeScripts.Select(s => s.Path + " (changed one-time script)"));
            return HealthCheckResult.Unhealthy("pending: " + string.Join(", ", pending));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("cannot read migrations: " + Startup.DatabaseBootstrapper.Describe(e));
        }
    }
}
