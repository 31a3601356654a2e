using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>
/// One dedicated LISTEN connection per node. Fans out wake-ups (a queue got runnable jobs),
/// cancel requests and control messages. Reconnects with backoff; after a reconnect every
/// subscriber is told to poll, since notifications sent while disconnected are lost.
/// NOTIFY is a hint: losing one delays a job by at most the poll interval.
/// </summary>
public sealed partial class PgNotifier(NpgsqlDataSource listenSource, LoopHealth health, ILogger<PgNotifier> logger)
{
    public const string JobsChannel = "jobsd_jobs";
    public const string CancelChannel = "jobsd_cancel";
    public const string ControlChannel = "jobsd_control";
    internal const string LoopName = "notifier";

    /// <summary>The payload is the queue name; an empty payload (after a reconnect) means "every queue".</summary>
    public event Action<string>? JobsAvailable;

    public event Action<long>? CancelRequested;

    public event Action<string>? Control;

    public async Task RunAsync(CancellationToken ct)
    {
        // Waits are bounded so the loop passes regularly even when nothing is sent.
        var wait = TimeSpan.FromSeconds(5);
        health.Register(LoopName, wait);
        var delay = TimeSpan.FromMilliseconds(250);
        var first = true;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await using var connection = await listenSource.OpenConnectionAsync(ct);
                    connection.Notification += OnNotification;
                    await using (var listen = new NpgsqlCommand($"listen {JobsChannel}; listen {CancelChannel}; listen {ControlChannel}", connection))
                    {
                        await listen.ExecuteNonQueryAsync(ct);
                    }
                    if (!first) Reconnected(logger);
                    first = false;
                    delay = TimeSpan.FromMilliseconds(250);
                    JobsAvailable?.Invoke("");
                    health.Passed(LoopName);
                    while (!ct.IsCancellationRequested)
                    {
                        await connection.WaitAsync(wait, ct);
                        health.Passed(LoopName);
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    health.Failed(LoopName, e.Message);
                    ListenFailed(logger, e.Message, delay.TotalMilliseconds);
                    try
                    {
                        await Task.Delay(delay, ct);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 10_000));
                }
            }
        }
        finally
        {
            health.Unregister(LoopName);
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        switch (e.Channel)
        {
            case JobsChannel:
                JobsAvailable?.Invoke(e.Payload);
                break;
            case CancelChannel when long.TryParse(e.Payload, out var id):
                CancelRequested?.Invoke(id);
                break;
            case ControlChannel:
                Control?.Invoke(e.Payload);
                break;
        }
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "LISTEN connection lost: {Error}; reconnecting in {DelayMs} ms (polling meanwhile)")]
    private static partial void ListenFailed(ILogger logger, string error, double delayMs);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "LISTEN connection re-established; polling every queue once")]
    private static partial void Reconnected(ILogger logger);
}
