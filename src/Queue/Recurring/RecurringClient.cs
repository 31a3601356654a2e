using Npgsql;
using NpgsqlTypes;

namespace Jobsd.Queue.Recurring;

/// <summary>A recurring job as operators see it: schedule, next and last run, and how the last run is doing.</summary>
public sealed record RecurringSummary(
    string Name, string Cron, string TimeZone, string Kind, string Args, string? Queue, string Misfire, string Overlap,
    bool Enabled, bool Paused, DateTimeOffset? NextRunAt, DateTimeOffset? LastRunAt, long? LastJobId, string? LastJobState,
    DateTimeOffset? LastSkippedAt, long SkippedCount, string? LastError, string Source)
{
    /// <summary>next_run_at in the job's own zone, as operators think of the schedule.</summary>
    public DateTimeOffset? NextRunLocal => NextRunAt is { } n ? TimeZoneInfo.ConvertTime(n, TimeZones.Find(TimeZone)) : null;
}

public enum RecurringActionResult
{
    Done,
    NotFound,
}

/// <summary>
/// Operations on recurring jobs: list, define (API), trigger now, pause, resume, remove.
/// Changes take effect at the leader's next pass (at most <see cref="QueueOptions.RecurringInterval"/>).
/// </summary>
public sealed class RecurringClient(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public async Task<IReadOnlyList<RecurringSummary>> ListAsync(CancellationToken ct = default) => await QueryAsync(null, ct);

    public async Task<RecurringSummary?> GetAsync(string name, CancellationToken ct = default) => (await QueryAsync(name, ct)).FirstOrDefault();

    private async Task<List<RecurringSummary>> QueryAsync(string? name, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            select r.name, r.cron, r.time_zone, r.kind, r.args::text, r.queue, r.misfire, r.overlap, r.enabled, r.paused,
                   r.next_run_at, r.last_run_at, r.last_job_id, j.state, r.last_skipped_at, r.skipped_count, r.last_error, r.source
            from queue.recurring r
            left join queue.jobs j on j.id = r.last_job_id
            where @name::text is null or r.name = @name
            order by r.name
            """);
        command.Parameters.Add(new NpgsqlParameter("name", NpgsqlDbType.Text) { Value = (object?)name ?? DBNull.Value });
        var list = new List<RecurringSummary>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            DateTimeOffset? At(int i) => reader.IsDBNull(i) ? null : new DateTimeOffset(reader.GetDateTime(i));
            list.Add(new RecurringSummary(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetBoolean(8), reader.GetBoolean(9),
                At(10), At(11), reader.IsDBNull(12) ? null : reader.GetInt64(12), reader.IsDBNull(13) ? null : reader.GetString(13),
                At(14), reader.GetInt64(15), reader.IsDBNull(16) ? null : reader.GetString(16), reader.GetString(17)));
        }
        return list;
    }

    /// <summary>
    /// Adds or updates a recurring job. A changed schedule or zone (or a job turned on again)
    /// starts from the next fire after now; otherwise the job keeps its place. Returns whether
    /// a row was inserted or changed. Validate the definition first (<see cref="RecurringDefinition.Validate"/>).
    /// </summary>
    public async Task<bool> UpsertAsync(RecurringDefinition definition, NpgsqlConnection? connection = null, NpgsqlTransaction? transaction = null, CancellationToken ct = default)
    {
        var next = CronSchedule.Parse(definition.Cron).Next(clock.GetUtcNow(), TimeZones.Find(definition.TimeZone));
        await using var command = Command("""
            insert into queue.recurring as r (name, cron, time_zone, kind, args, queue, priority, max_attempts, misfire, overlap, max_catch_up, enabled, source, next_run_at)
            values (@name, @cron, @zone, @kind, @args::jsonb, @queue, @priority, @max_attempts, @misfire, @overlap, @max_catch_up, @enabled, @source, @next)
            on conflict (name) do update set
                cron = excluded.cron, time_zone = excluded.time_zone, kind = excluded.kind, args = excluded.args, queue = excluded.queue,
                priority = excluded.priority, max_attempts = excluded.max_attempts, misfire = excluded.misfire, overlap = excluded.overlap,
                max_catch_up = excluded.max_catch_up, enabled = excluded.enabled, source = excluded.source,
                next_run_at = case
                    when r.cron is distinct from excluded.cron or r.time_zone is distinct from excluded.time_zone
                      or r.next_run_at is null or (excluded.enabled and not r.enabled) then excluded.next_run_at
                    else r.next_run_at end,
                last_error = null,
                updated_at = now()
            where (r.cron, r.time_zone, r.kind, r.args, r.queue, r.priority, r.max_attempts, r.misfire, r.overlap, r.max_catch_up, r.enabled, r.source)
                is distinct from
                  (excluded.cron, excluded.time_zone, excluded.kind, excluded.args, excluded.queue, excluded.priority, excluded.max_attempts,
                   excluded.misfire, excluded.overlap, excluded.max_catch_up, excluded.enabled, excluded.source)
            """, connection, transaction);
        command.Parameters.AddWithValue("name", definition.Name);
        command.Parameters.AddWithValue("cron", definition.Cron.Trim());
        command.Parameters.AddWithValue("zone", string.IsNullOrWhiteSpace(definition.TimeZone) ? "UTC" : definition.TimeZone.Trim());
        command.Parameters.AddWithValue("kind", definition.Kind);
        command.Parameters.AddWithValue("args", definition.ArgsJson);
        command.Parameters.Add(new NpgsqlParameter("queue", NpgsqlDbType.Text) { Value = (object?)definition.Queue ?? DBNull.Value });
        command.Parameters.AddWithValue("priority", (short)definition.Priority);
        command.Parameters.Add(new NpgsqlParameter("max_attempts", NpgsqlDbType.Integer) { Value = (object?)definition.MaxAttempts ?? DBNull.Value });
        command.Parameters.AddWithValue("misfire", RecurringDefinition.ToDb(definition.Misfire));
        command.Parameters.AddWithValue("overlap", RecurringDefinition.ToDb(definition.Overlap));
        command.Parameters.AddWithValue("max_catch_up", definition.MaxCatchUp);
        command.Parameters.AddWithValue("enabled", definition.Enabled);
        command.Parameters.AddWithValue("source", RecurringDefinition.ToDb(definition.Source));
        command.Parameters.Add(new NpgsqlParameter("next", NpgsqlDbType.TimestampTz) { Value = next is { } n ? n.UtcDateTime : DBNull.Value });
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>
    /// Defines (or redefines) a job through the API or CLI: validated like a configured one,
    /// except that the kind must be one some node has registered (queue.kinds) — this process
    /// may not run it. With a <paramref name="registry"/> (inside a node) the args must bind
    /// too. Returns the problems, each naming the job; nothing is written unless there are none.
    /// </summary>
    public async Task<IReadOnlyList<string>> DefineAsync(RecurringDefinition definition, JobRegistry? registry = null, CancellationToken ct = default)
    {
        definition = definition with { Source = RecurringSource.Api };
        var problems = definition.Validate(registry is not null && registry.TryGet(definition.Kind, out _) ? registry : null, argsFromConfiguration: false, out var canonical).ToList();
        if (problems.Count == 0)
        {
            var known = await KnownKindsAsync(ct);
            if (!known.Contains(definition.Kind, StringComparer.Ordinal))
            {
                problems.Add($"recurring job '{definition.Name}': unknown kind '{definition.Kind}'; known kinds: {(known.Count == 0 ? "(none: no node has started yet)" : string.Join(", ", known))}");
            }
        }
        if (problems.Count > 0) return problems;
        await UpsertAsync(definition with { ArgsJson = canonical }, ct: ct);
        return [];
    }

    /// <summary>
    /// Enqueues a run now, outside the schedule (its own unique key, so it never collides with
    /// a scheduled fire). The schedule is unchanged; overlap skip counts this run as the previous one.
    /// Returns the job id, or null when no such recurring job exists.
    /// </summary>
    public async Task<long?> TriggerAsync(string name, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using var command = new NpgsqlCommand("""
            with r as (select * from queue.recurring where name = @name for update),
            job as (
                select e.id from r, queue.enqueue_job(kind => r.kind, args => r.args, queue => r.queue, priority => r.priority,
                    max_attempts => r.max_attempts, unique_key => @key, tags => array['recurring:' || r.name]) e
            )
            update queue.recurring q set last_job_id = job.id, updated_at = now() from job where q.name = @name
            returning job.id
            """, connection, tx);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("key", $"recurring:{name}:manual:{clock.GetUtcNow().UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'}");
        var id = await command.ExecuteScalarAsync(ct);
        await tx.CommitAsync(ct);
        return id is long l ? l : null;
    }

    /// <summary>No more fires until resumed; a run in progress continues.</summary>
    public async Task<RecurringActionResult> PauseAsync(string name, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand("update queue.recurring set paused = true, updated_at = now() where name = @name");
        command.Parameters.AddWithValue("name", name);
        return await command.ExecuteNonQueryAsync(ct) == 1 ? RecurringActionResult.Done : RecurringActionResult.NotFound;
    }

    /// <summary>Fires again from the next occurrence after now: what fell in the pause is not caught up.</summary>
    public async Task<RecurringActionResult> ResumeAsync(string name, CancellationToken ct = default)
    {
        var job = await GetAsync(name, ct);
        if (job is null) return RecurringActionResult.NotFound;
        var next = CronSchedule.Parse(job.Cron).Next(clock.GetUtcNow(), TimeZones.Find(job.TimeZone));
        await using var command = dataSource.CreateCommand(
            "update queue.recurring set paused = false, next_run_at = case when paused then @next else next_run_at end, updated_at = now() where name = @name");
        command.Parameters.AddWithValue("name", name);
        command.Parameters.Add(new NpgsqlParameter("next", NpgsqlDbType.TimestampTz) { Value = next is { } n ? n.UtcDateTime : DBNull.Value });
        return await command.ExecuteNonQueryAsync(ct) == 1 ? RecurringActionResult.Done : RecurringActionResult.NotFound;
    }

    /// <summary>Deletes the schedule (its jobs stay). One defined in code or configuration comes back at the next start.</summary>
    public async Task<RecurringActionResult> RemoveAsync(string name, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand("delete from queue.recurring where name = @name");
        command.Parameters.AddWithValue("name", name);
        return await command.ExecuteNonQueryAsync(ct) == 1 ? RecurringActionResult.Done : RecurringActionResult.NotFound;
    }

    /// <summary>Kinds some node has registered (queue.kinds): what an API-defined job may name.</summary>
    public async Task<IReadOnlyList<string>> KnownKindsAsync(CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand("select kind from queue.kinds order by kind");
        var kinds = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) kinds.Add(reader.GetString(0));
        return kinds;
    }

    private NpgsqlCommand Command(string sql, NpgsqlConnection? connection, NpgsqlTransaction? transaction) =>
        connection is null ? dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, connection, transaction);
}
