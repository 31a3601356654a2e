using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue.Maintenance;

/// <summary>Leader only: deletes finished jobs past their state's retention, and old stats, in batches.</summary>
public sealed class JobPruner(NpgsqlDataSource dataSource, QueueOptions options, LeaderElector elector, LoopHealth health, TimeProvider clock, ILogger<JobPruner> logger)
    : LeaderLoop(elector, health, clock, logger)
{
    private const int BatchSize = 5_000;
    private static readonly TimeSpan StatsRetention = TimeSpan.FromDays(30);

    protected override string Name => "pruner";
    protected override TimeSpan Interval => options.PrunerInterval;

    protected override async Task<int> RunPassAsync(CancellationToken ct)
    {
        var total = await InBatchesAsync(BatchSize, async () =>
        {
            await using var command = dataSource.CreateCommand(JobQueries.Prune);
            command.Parameters.AddWithValue("limit", BatchSize);
            command.Parameters.AddWithValue("succeeded", options.SucceededRetention);
            command.Parameters.AddWithValue("failed", options.FailedRetention);
            command.Parameters.AddWithValue("deleted", options.DeletedRetention);
            command.Parameters.AddWithValue("shortest", new[] { options.SucceededRetention, options.FailedRetention, options.DeletedRetention }.Min());
            command.CommandTimeout = 30;
            return await command.ExecuteNonQueryAsync(ct);
        }, pause: true, ct);

        await using var stats = dataSource.CreateCommand("delete from queue.stats where minute < now() - @retention");
        stats.Parameters.AddWithValue("retention", StatsRetention);
        await stats.ExecuteNonQueryAsync(ct);
        return total;
    }
}
