using Jobsd.Daemon.Health;
using Jobsd.Data;
using Jobsd.Queue;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Jobsd.Daemon.Systemd;

/// <summary>
/// Tells systemd how jobsd is doing: <c>READY=1</c> only when the host started every service,
/// Kestrel listens and the database bootstrap finished; <c>STATUS=</c> lines while waiting;
/// <c>WATCHDOG=1</c> at half the watchdog interval while the liveness checks pass (a wedged
/// loop stops the pings, and systemd restarts us); <c>STOPPING=1</c> as shutdown begins.
/// </summary>
public sealed partial class SystemdNotifyService(
    SystemdNotifier notifier,
    IHostApplicationLifetime lifetime,
    DatabaseReadiness readiness,
    QueueEngine engine,
    HealthCheckService health,
    IServer server,
    ILogger<SystemdNotifyService> logger) : BackgroundService
{
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() =>
        {
            notifier.Stopping();
            notifier.Status("Stopping");
        });
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!notifier.IsEnabled) return;
        var watchdog = notifier.WatchdogInterval is { } interval ? WatchdogAsync(interval, stoppingToken) : Task.CompletedTask;
        try
        {
            await WhenStartedAsync(stoppingToken);
            var lastStatus = "";
            while (!readiness.IsReady || !engine.IsStarted)
            {
                var status = readiness.IsReady ? "engine starting" : readiness.Status;
                if (status != lastStatus) notifier.Status(lastStatus = "Starting: " + status);
                await Task.WhenAny(readiness.WhenReady(stoppingToken), Task.Delay(TimeSpan.FromMilliseconds(readiness.IsReady ? 20 : 250), stoppingToken));
                stoppingToken.ThrowIfCancellationRequested();
            }
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            notifier.Status($"Ready; listening on {string.Join(", ", addresses)}");
            notifier.Ready();
            SentReady(logger);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await watchdog;
    }

    private Task WhenStartedAsync(CancellationToken ct)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        return started.Task.WaitAsync(ct);
    }

    private async Task WatchdogAsync(TimeSpan interval, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                var report = await health.CheckHealthAsync(c => c.Tags.Contains(HealthEndpoints.LiveTag), ct);
                if (report.Status == HealthStatus.Healthy) notifier.Watchdog();
                else WatchdogWithheld(logger, string.Join("; ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).Select(e => $"{e.Key}: {e.Value.Description}")));
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Told systemd READY=1")]
    private static partial void SentReady(ILogger logger);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "Withholding the systemd watchdog ping: liveness failing ({Failures})")]
    private static partial void WatchdogWithheld(ILogger logger, string failures);
}
