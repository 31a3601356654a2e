using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue.Maintenance;

/// <summary>
/// Leader only: returns <c>processing</c> jobs of dead nodes (heartbeat older than
/// <see cref="QueueOptions.NodeTimeout"/>) to the queue, or to <c>failed</c> when that was their
/// last attempt, and forgets the dead nodes. A dead node that comes back finds its completions
/// fenced off and its row gone.
/// </summary>
public sealed partial class JobRescuer(NpgsqlDataSource dataSource, QueueOptions options, LeaderElector elector, LoopHealth health, TimeProvider clock, ILogger<JobRescuer> logger)
    : LeaderLoop(elector, health, clock, logger)
{
    private const int BatchSize = 1_000;
    private readonly ILogger _logger = logger;

    protected override string Name => "rescuer";
    protected override TimeSpan Interval => options.RescuerInterval;

    protected override async Task<int> RunPassAsync(CancellationToken ct)
    {
        var total = await InBatchesAsync(BatchSize, async () =>
        {
            var rescued = 0;
            await using var command = dataSource.CreateCommand(JobQueries.Rescue);
            command.Parameters.AddWithValue("limit", BatchSize);
            command.Parameters.AddWithValue("nodeTimeout", options.NodeTimeout);
            command.CommandTimeout = 30;
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                rescued++;
                JobRescued(_logger, reader.GetInt64(0), reader.IsDBNull(1) ? "(none)" : reader.GetString(1), reader.GetString(2));
            }
            return rescued;
        }, pause: false, ct);

        await using var forget = dataSource.CreateCommand("delete from queue.nodes where heartbeat_at < now() - @nodeTimeout");
        forget.Parameters.AddWithValue("nodeTimeout", options.NodeTimeout);
        await forget.ExecuteNonQueryAsync(ct);
        return total;
    }

    [LoggerMessage(EventId = 5701, Level = LogLevel.Warning, Message = "Rescued job {JobId} from lost node {Node}; now {State}")]
    private static partial void JobRescued(ILogger logger, long jobId, string node, string state);
}
