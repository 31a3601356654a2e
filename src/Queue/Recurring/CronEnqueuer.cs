using System.Globalization;
using Jobsd.Queue.Health;
using Jobsd.Queue.Maintenance;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue.Recurring;

/// <summary>
/// Leader only: turns due recurring schedules into jobs. Each due row is handled in its own
/// transaction that locks the row, enqueues the fire's job (unique key
/// <c>recurring:{name}:{fire time UTC}</c>) and advances next_run_at — so a fire is enqueued
/// exactly once even when two nodes briefly both lead (the second finds the row locked or
/// already advanced) or a node dies mid-way (nothing of the transaction survives, and a job
/// left by any other path is matched by its unique key instead of duplicated).
/// </summary>
public sealed partial class CronEnqueuer(
    NpgsqlDataSource dataSource,
    QueueOptions options,
    LeaderElector elector,
    LoopHealth health,
    TimeProvider clock,
    ILogger<CronEnqueuer> logger) : LeaderLoop(elector, health, clock, logger)
{
    private const int BatchSize = 100;

    // A schedule that fires every second and was down for a year has 31 million missed fires;
    // walking them all to find the most recent ones is not worth it past this many.
    private const int MaxFiresWalked = 1_000_000;

    protected override string Name => "cron";
    protected override TimeSpan Interval => options.RecurringInterval;

    protected override async Task<int> RunPassAsync(CancellationToken ct)
    {
        var now = Clock.GetUtcNow();
        var due = new List<string>();
        await using (var command = dataSource.CreateCommand(
            "select name from queue.recurring where enabled and not paused and next_run_at <= @now order by next_run_at limit @limit"))
        {
            command.Parameters.AddWithValue("now", now);
            command.Parameters.AddWithValue("limit", BatchSize);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) due.Add(reader.GetString(0));
        }
        var enqueued = 0;
        foreach (var name in due) enqueued += await FireAsync(name, now, ct);
        return enqueued;
    }

    private sealed record DueRow(string Cron, string TimeZone, string Kind, string Args, string? Queue, short Priority, int? MaxAttempts,
        string Misfire, string Overlap, int MaxCatchUp, DateTime NextRunAt, bool PreviousRunActive);

    /// <summary>Handles one due schedule; returns the number of jobs enqueued.</summary>
    private async Task<int> FireAsync(string name, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await LockDueAsync(connection, tx, name, now, ct);
        if (row is null) return 0; // another leader has it, or it was advanced, paused or removed meanwhile

        CronSchedule schedule;
        TimeZoneInfo zone;
        try
        {
            schedule = CronSchedule.Parse(row.Cron);
            zone = TimeZones.Find(row.TimeZone);
        }
        catch (CronFormatException e)
        {
            // Only a hand-edited row gets here (every other path validates). Stop it loudly,
            // with the reason on the row, rather than retry every second.
            await RecordAsync(connection, tx, name, next: null, fire: null, jobId: null, skipped: 0, error: e.Message, ct);
            await tx.CommitAsync(ct);
            ScheduleBroken(logger, name, e.Message);
            return 0;
        }

        var (fires, dropped, next) = DueFires(schedule, zone, row, now);
        var toRun = Enum.Parse<MisfirePolicy>(row.Misfire, ignoreCase: true) switch
        {
            MisfirePolicy.All => fires,
            MisfirePolicy.Skip => now - fires[^1] <= options.MisfireThreshold ? [fires[^1]] : [],
            _ => [fires[^1]],
        };
        var missed = dropped + fires.Count(f => now - f > options.MisfireThreshold);
        if (missed > 0) Misfired(logger, name, missed, row.Misfire, toRun.Count);

        var skipped = 0;
        if (Enum.Parse<OverlapPolicy>(row.Overlap, ignoreCase: true) == OverlapPolicy.Skip && toRun.Count > 0)
        {
            if (row.PreviousRunActive)
            {
                skipped = toRun.Count;
                toRun = [];
                OverlapSkipped(logger, name, CronSchedule.Format(fires[^1]));
            }
            else
            {
                // The first run is active once enqueued: later catch-up fires would overlap it.
                toRun = [toRun[^1]];
            }
        }

        long? lastJob = null;
        try
        {
            foreach (var fire in toRun) lastJob = await EnqueueAsync(connection, tx, name, row, UniqueKey(name, fire), ct);
        }
        catch (PostgresException e) when (e.SqlState == "22023")
        {
            // The kind or args were refused (e.g. no node runs the kind any more). Record why on
            // the row and move on to the next fire; the log says it every time.
            await tx.RollbackAsync(ct);
            await using var retry = await connection.BeginTransactionAsync(ct);
            if (await LockDueAsync(connection, retry, name, now, ct) is null) return 0;
            await RecordAsync(connection, retry, name, next, fire: null, jobId: null, skipped: 0, error: e.MessageText, ct);
            await retry.CommitAsync(ct);
            EnqueueRefused(logger, name, e.MessageText);
            return 0;
        }
        await RecordAsync(connection, tx, name, next, toRun.Count > 0 ? toRun[^1] : null, lastJob, skipped, error: null, ct);
        await tx.CommitAsync(ct);
        return toRun.Count;
    }

    /// <summary>
    /// The fire times from next_run_at up to now (the most recent <c>max_catch_up</c> of them),
    /// how many older ones were dropped, and the first fire after now.
    /// </summary>
    private static (List<DateTimeOffset> Fires, long Dropped, DateTimeOffset? Next) DueFires(CronSchedule schedule, TimeZoneInfo zone, DueRow row, DateTimeOffset now)
    {
        var fires = new Queue<DateTimeOffset>();
        long dropped = 0;
        DateTimeOffset? fire = new DateTimeOffset(DateTime.SpecifyKind(row.NextRunAt, DateTimeKind.Utc));
        for (var walked = 1; fire is { } f && f <= now; walked++)
        {
            fires.Enqueue(f);
            if (fires.Count > row.MaxCatchUp)
            {
                fires.Dequeue();
                dropped++;
            }
            // Past this many, the rest up to now is dropped like any catch-up overflow (its count unknown).
            fire = walked < MaxFiresWalked ? schedule.Next(f, zone) : schedule.Next(now, zone);
        }
        return (fires.ToList(), dropped, fire);
    }

    private static string UniqueKey(string name, DateTimeOffset fire) =>
        $"recurring:{name}:{fire.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}";

    private static async Task<DueRow?> LockDueAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string name, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            select r.cron, r.time_zone, r.kind, r.args::text, r.queue, r.priority, r.max_attempts, r.misfire, r.overlap, r.max_catch_up, r.next_run_at,
                   exists (select 1 from queue.jobs j where j.id = r.last_job_id and j.state in ('scheduled', 'enqueued', 'processing'))
            from queue.recurring r
            where r.name = @name and r.enabled and not r.paused and r.next_run_at <= @now
            for update of r skip locked
            """, connection, tx);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("now", now);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return new DueRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt16(5), reader.IsDBNull(6) ? null : reader.GetInt32(6),
            reader.GetString(7), reader.GetString(8), reader.GetInt32(9), reader.GetDateTime(10), reader.GetBoolean(11));
    }

    private static async Task<long> EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string name, DueRow row, string uniqueKey, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            select id from queue.enqueue_job(kind => @kind, args => @args::jsonb, queue => @queue, priority => @priority,
                max_attempts => @max_attempts, unique_key => @unique_key, tags => @tags)
            """, connection, tx);
        command.Parameters.AddWithValue("kind", row.Kind);
        command.Parameters.AddWithValue("args", row.Args);
        command.Parameters.Add(new NpgsqlParameter("queue", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)row.Queue ?? DBNull.Value });
        command.Parameters.AddWithValue("priority", (int)row.Priority);
        command.Parameters.Add(new NpgsqlParameter("max_attempts", NpgsqlTypes.NpgsqlDbType.Integer) { Value = (object?)row.MaxAttempts ?? DBNull.Value });
        command.Parameters.AddWithValue("unique_key", uniqueKey);
        command.Parameters.AddWithValue("tags", new[] { "recurring:" + name });
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    private static async Task RecordAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string name, DateTimeOffset? next, DateTimeOffset? fire,
        long? jobId, int skipped, string? error, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            update queue.recurring set
                next_run_at = @next,
                last_run_at = coalesce(@fire, last_run_at),
                last_job_id = coalesce(@job, last_job_id),
                last_skipped_at = case when @skipped > 0 then now() else last_skipped_at end,
                skipped_count = skipped_count + @skipped,
                last_error = @error,
                updated_at = now()
            where name = @name
            """, connection, tx);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.Add(new NpgsqlParameter("next", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = next is { } n ? n.UtcDateTime : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("fire", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = fire is { } f ? f.UtcDateTime : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("job", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)jobId ?? DBNull.Value });
        command.Parameters.AddWithValue("skipped", skipped);
        command.Parameters.Add(new NpgsqlParameter("error", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)error ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(EventId = 5701, Level = LogLevel.Warning, Message = "Recurring job {Name}: {Missed} fire times were missed (no leader enqueued them in time); misfire policy {Policy} runs {Runs} now")]
    private static partial void Misfired(ILogger logger, string name, long missed, string policy, int runs);

    [LoggerMessage(EventId = 5702, Level = LogLevel.Information, Message = "Recurring job {Name}: fire at {Fire} skipped, the previous run has not finished (overlap skip)")]
    private static partial void OverlapSkipped(ILogger logger, string name, string fire);

    [LoggerMessage(EventId = 5703, Level = LogLevel.Error, Message = "Recurring job {Name}: the job was refused, this fire is lost: {Error}")]
    private static partial void EnqueueRefused(ILogger logger, string name, string error);

    [LoggerMessage(EventId = 5704, Level = LogLevel.Error, Message = "Recurring job {Name} stopped: its schedule is invalid: {Error}")]
    private static partial void ScheduleBroken(ILogger logger, string name, string error);
}
