using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>
/// The polling half of cancellation: NOTIFY delivers a cancel within milliseconds, but a lost
/// notification (reconnect, poll-only mode behind PgBouncer) must not leave a cancelled job
/// running. Every poll interval it asks which of this node's jobs have a cancel request
/// (jobs_processing_idx) and cancels them.
/// </summary>
public sealed partial class CancelWatcher(NpgsqlDataSource dataSource, JobExecutor executor, NodeIdentity node, QueueOptions options, TimeProvider clock, LoopHealth health, ILogger<CancelWatcher> logger)
{
    internal const string LoopName = "cancel-watcher";

    public async Task RunAsync(CancellationToken ct)
    {
        health.Register(LoopName, options.PollInterval);
        try
        {
            using var timer = new PeriodicTimer(options.PollInterval, clock);
            while (await timer.WaitForNextTickAsync(ct))
            {
                if (executor.RunningCount == 0)
                {
                    health.Passed(LoopName);
                    continue;
                }
                try
                {
                    await using var command = dataSource.CreateCommand("""
                        select id, coalesce(reason, 'cancelled by operator') from queue.jobs
                        where node = @node and state = 'processing' and cancel_requested_at is not null
                        """);
                    command.Parameters.AddWithValue("node", node.Name);
                    await using var reader = await command.ExecuteReaderAsync(ct);
                    while (await reader.ReadAsync(ct)) executor.Cancel(reader.GetInt64(0), reader.GetString(1));
                    health.Passed(LoopName);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    health.Failed(LoopName, e.Message);
                    CheckFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            health.Unregister(LoopName);
        }
    }

    [LoggerMessage(EventId = 5901, Level = LogLevel.Warning, Message = "Checking for cancel requests failed: {Error}")]
    private static partial void CheckFailed(ILogger logger, string error);
}
