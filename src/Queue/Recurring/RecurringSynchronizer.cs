using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue.Recurring;

/// <summary>
/// At start, makes queue.recurring match the definitions of this node's code and
/// configuration: new ones are added, changed ones updated (a new schedule starts from the
/// next fire after now), and configuration-defined jobs that are no longer configured are
/// removed. Jobs created through the API are left alone; so are code-defined jobs this node
/// does not know (another release's nodes may still define them). One transaction under an
/// advisory lock, so nodes starting together do not interleave.
/// </summary>
public sealed partial class RecurringSynchronizer(
    NpgsqlDataSource dataSource,
    RecurringClient client,
    RecurringCatalog catalog,
    ILogger<RecurringSynchronizer> logger)
{
    private const long LockKey = 0x6a6f6273_64726563; // "jobsdrec"

    private IReadOnlyList<RecurringDefinition> Definitions => catalog.All;

    public async Task SyncAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var lockCommand = new NpgsqlCommand("select pg_advisory_xact_lock(@key)", connection, tx))
        {
            lockCommand.Parameters.AddWithValue("key", LockKey);
            await lockCommand.ExecuteNonQueryAsync(ct);
        }
        var changed = 0;
        foreach (var definition in Definitions)
        {
            if (await client.UpsertAsync(definition, connection, tx, ct)) changed++;
        }
        await using var remove = new NpgsqlCommand(
            "delete from queue.recurring where source = 'config' and not (name = any(@names)) returning name", connection, tx);
        remove.Parameters.AddWithValue("names", Definitions.Where(d => d.Source == RecurringSource.Config).Select(d => d.Name).ToArray());
        var removed = new List<string>();
        await using (var reader = await remove.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) removed.Add(reader.GetString(0));
        }
        await tx.CommitAsync(ct);
        Synchronized(logger, Definitions.Count, changed, removed.Count == 0 ? "none" : string.Join(", ", removed));
    }

    [LoggerMessage(EventId = 5705, Level = LogLevel.Information, Message = "Recurring jobs synchronised: {Defined} defined here, {Changed} added or changed; removed (no longer configured): {Removed}")]
    private static partial void Synchronized(ILogger logger, int defined, int changed, string removed);
}
