using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Jobsd.Daemon.Health;

/// <summary>
/// <c>/healthz</c>: liveness (the process and its loops are alive; a restart would help if not).
/// <c>/readyz</c>: readiness (send work here: database answers, schema current, services started).
/// Both answer JSON with every check's status, description and duration; 503 when unhealthy.
/// </summary>
public static class HealthEndpoints
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    public static IHealthChecksBuilder AddJobsdHealthChecks(this IServiceCollection services) =>
        services.AddHealthChecks()
            .AddCheck<LoopsHealthCheck>("loops", tags: [LiveTag, ReadyTag])
            .AddCheck<StartupHealthCheck>("startup", tags: [ReadyTag])
            .AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag])
            .AddCheck<MigrationsHealthCheck>("migrations", tags: [ReadyTag]);

    public static void MapJobsdHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/healthz", Options(LiveTag));
        endpoints.MapHealthChecks("/readyz", Options(ReadyTag));
    }

    private static HealthCheckOptions Options(string tag) => new()
    {
        Predicate = check => check.Tags.Contains(tag),
        ResponseWriter = WriteAsync,
        AllowCachingResponses = false,
    };

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString().ToLowerInvariant(),
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.Select(e => new
            {
                name = e.Key,
                status = e.Value.Status.ToString().ToLowerInvariant(),
                description = e.Value.Description,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
            }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, cancellationToken: context.RequestAborted);
    }
}
