using Jobsd.Data;
using Jobsd.Queue;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Jobsd.Jobs.Partitions;

/// <summary>
/// Enqueues the partition keeper once when a node starts (besides its daily schedule), so a
/// fresh install or a long downtime never waits until 03:00 for next month's partition. The
/// unique key makes nodes starting together share one run.
/// </summary>
public sealed partial class PartitionsAtStart(DatabaseReadiness readiness, JobClient jobs, ILogger<PartitionsAtStart> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await readiness.WhenReady(stoppingToken);
            var (id, existing) = await jobs.EnqueueAsync(new PartitionArgs(), new EnqueueOptions { UniqueKey = "audit-partitions:start" }, stoppingToken);
            Enqueued(logger, id, existing);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            // The daily run still comes; say why this one did not.
            EnqueueFailed(logger, e.Message);
        }
    }

    [LoggerMessage(EventId = 7103, Level = LogLevel.Information, Message = "Partition keeper run at start: job {JobId} (already queued: {Existing})")]
    private static partial void Enqueued(ILogger logger, long jobId, bool existing);

    [LoggerMessage(EventId = 7104, Level = LogLevel.Warning, Message = "Could not enqueue the partition keeper at start: {Error}; the daily run will do it")]
    private static partial void EnqueueFailed(ILogger logger, string error);
}
