using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue.Maintenance;

/// <summary>Leader only: moves due <c>scheduled</c> jobs (delayed jobs, retries, snoozes) to <c>enqueued</c>.</summary>
public sealed class JobScheduler(NpgsqlDataSource dataSource, QueueOptions options, LeaderElector elector, LoopHealth health, TimeProvider clock, ILogger<JobScheduler> logger)
    : LeaderLoop(elector, health, clock, logger)
{
    private const int BatchSize = 5_000;

    protected override string Name => "scheduler";
    protected override TimeSpan Interval => options.SchedulerInterval;

    protected override Task<int> RunPassAsync(CancellationToken ct) => InBatchesAsync(BatchSize, async () =>
    {
        await using var command = dataSource.CreateCommand(JobQueries.EnqueueDue);
        command.Parameters.AddWithValue("limit", BatchSize);
        command.Parameters.AddWithValue("now", Clock.GetUtcNow());
        command.CommandTimeout = 30;
        return await command.ExecuteNonQueryAsync(ct);
    }, pause: false, ct);
}
