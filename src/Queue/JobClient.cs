using Npgsql;
using NpgsqlTypes;

namespace Jobsd.Queue;

/// <summary>How to enqueue: all optional.</summary>
public sealed record EnqueueOptions
{
    /// <summary>The queue; default: the kind's registered queue, else "default".</summary>
    public string? Queue { get; init; }

    /// <summary>Lower runs first; 0 to 32767. Default: 0.</summary>
    public short Priority { get; init; }

    /// <summary>Default: the kind's registered max attempts, else 10.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>While a job of the same kind with this key is scheduled, enqueued or processing, enqueueing returns that job instead.</summary>
    public string? UniqueKey { get; init; }

    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>Run at (not before) this time; null means now.</summary>
    public DateTimeOffset? RunAt { get; init; }
}

/// <param name="Existing">True when an active job with the same unique key existed: <paramref name="Id"/> is that job.</param>
public readonly record struct EnqueueResult(long Id, bool Existing);

public enum JobActionResult
{
    Done,
    /// <summary>The job is running: its node was asked to cancel it (it ends deleted).</summary>
    CancelRequested,
    NotFound,
    /// <summary>The job's state does not allow the action (e.g. retrying a succeeded job).</summary>
    NotAllowed,
}

/// <summary>
/// Enqueues and steers jobs. Every method can run on the caller's connection and transaction,
/// so a job exists only if the caller's business write commits.
/// </summary>
public sealed class JobClient(NpgsqlDataSource dataSource, JobRegistry registry, TimeProvider clock, JobsdMetrics? metrics = null)
{
    public Task<EnqueueResult> EnqueueAsync<TArgs>(TArgs args, EnqueueOptions? options = null, CancellationToken ct = default)
        where TArgs : IJobArgs =>
        EnqueueAsync(args, options, null, null, ct);

    public Task<EnqueueResult> EnqueueAsync<TArgs>(TArgs args, EnqueueOptions? options, NpgsqlConnection? connection, NpgsqlTransaction? transaction, CancellationToken ct = default)
        where TArgs : IJobArgs
    {
        options ??= new EnqueueOptions();
        if (registry.TryGet(TArgs.Kind, out var kind))
        {
            options = options with { Queue = options.Queue ?? kind.Options.Queue, MaxAttempts = options.MaxAttempts ?? kind.Options.MaxAttempts };
        }
        // A typed enqueue names a kind that exists in code, even if no node has started with it yet.
        return EnqueueRawAsync(TArgs.Kind, JobArgsJson.Serialize(args), options, allowUnknown: true, connection, transaction, ct);
    }

    public Task<EnqueueResult> ScheduleAsync<TArgs>(TArgs args, DateTimeOffset runAt, EnqueueOptions? options = null, CancellationToken ct = default)
        where TArgs : IJobArgs =>
        EnqueueAsync(args, (options ?? new EnqueueOptions()) with { RunAt = runAt }, ct);

    public Task<EnqueueResult> ScheduleAsync<TArgs>(TArgs args, TimeSpan delay, EnqueueOptions? options = null, CancellationToken ct = default)
        where TArgs : IJobArgs =>
        ScheduleAsync(args, clock.GetUtcNow() + delay, options, ct);

    /// <summary>
    /// Enqueue by kind name and raw JSON (CLI, HTTP API). Unknown kinds are refused unless
    /// <paramref name="allowUnknown"/>; bad input raises <see cref="PostgresException"/> with SQL state 22023 and a message naming the problem.
    /// </summary>
    public async Task<EnqueueResult> EnqueueRawAsync(string kind, string argsJson, EnqueueOptions? options, bool allowUnknown,
        NpgsqlConnection? connection = null, NpgsqlTransaction? transaction = null, CancellationToken ct = default)
    {
        options ??= new EnqueueOptions();
        const string sql = """
            select id, existing from queue.enqueue_job(
                kind => @kind, args => @args::jsonb, queue => @queue, run_at => @run_at, priority => @priority,
                max_attempts => @max_attempts, unique_key => @unique_key, tags => @tags, allow_unknown => @allow_unknown)
            """;
        await using var command = connection is null ? dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string>("kind", kind));
        command.Parameters.Add(new NpgsqlParameter<string>("args", argsJson));
        command.Parameters.Add(new NpgsqlParameter("queue", NpgsqlDbType.Text) { Value = (object?)options.Queue ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("run_at", NpgsqlDbType.TimestampTz) { Value = options.RunAt is { } at ? at.UtcDateTime : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter<int>("priority", options.Priority));
        command.Parameters.Add(new NpgsqlParameter("max_attempts", NpgsqlDbType.Integer) { Value = (object?)options.MaxAttempts ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("unique_key", NpgsqlDbType.Text) { Value = (object?)options.UniqueKey ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter<string[]>("tags", options.Tags?.ToArray() ?? []));
        command.Parameters.Add(new NpgsqlParameter<bool>("allow_unknown", allowUnknown));
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var result = new EnqueueResult(reader.GetInt64(0), reader.GetBoolean(1));
        if (!result.Existing) metrics?.Enqueued(kind);
        return result;
    }

    /// <summary>
    /// Enqueues many jobs of one kind with binary COPY: one round trip for the lot. Unique keys
    /// are not supported here (COPY cannot skip conflicts); use <see cref="EnqueueAsync{TArgs}(TArgs, EnqueueOptions?, CancellationToken)"/> for those.
    /// </summary>
    public async Task<long> EnqueueManyAsync<TArgs>(IEnumerable<TArgs> many, EnqueueOptions? options = null,
        NpgsqlConnection? connection = null, CancellationToken ct = default) where TArgs : IJobArgs
    {
        options ??= new EnqueueOptions();
        if (options.UniqueKey is not null) throw new ArgumentException("EnqueueManyAsync does not take a unique key", nameof(options));
        if (options.Priority < 0) throw new ArgumentOutOfRangeException(nameof(options), "priority must be between 0 and 32767");
        registry.TryGet(TArgs.Kind, out var kind);
        var queue = options.Queue ?? kind?.Options.Queue ?? "default";
        var maxAttempts = options.MaxAttempts ?? kind?.Options.MaxAttempts ?? 10;
        var runAt = options.RunAt ?? clock.GetUtcNow();
        var state = options.RunAt is { } at && at > clock.GetUtcNow() ? "scheduled" : "enqueued";
        var tags = options.Tags?.ToArray() ?? [];

        var owned = connection is null;
        connection ??= await dataSource.OpenConnectionAsync(ct);
        try
        {
            await using var writer = await connection.BeginBinaryImportAsync(
                "copy queue.jobs (queue, kind, args, state, priority, max_attempts, scheduled_at, tags) from stdin (format binary)", ct);
            long count = 0;
            foreach (var args in many)
            {
                await writer.StartRowAsync(ct);
                await writer.WriteAsync(queue, NpgsqlDbType.Text, ct);
                await writer.WriteAsync(TArgs.Kind, NpgsqlDbType.Text, ct);
                await writer.WriteAsync(JobArgsJson.Serialize(args), NpgsqlDbType.Jsonb, ct);
                await writer.WriteAsync(state, NpgsqlDbType.Text, ct);
                await writer.WriteAsync(options.Priority, NpgsqlDbType.Smallint, ct);
                await writer.WriteAsync(maxAttempts, NpgsqlDbType.Integer, ct);
                await writer.WriteAsync(runAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
                await writer.WriteAsync(tags, NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
                count++;
            }
            await writer.CompleteAsync(ct);
            metrics?.Enqueued(TArgs.Kind, count);
            return count;
        }
        finally
        {
            if (owned) await connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Cancels a job: a scheduled or enqueued job ends deleted at once; a processing job's node
    /// is told through NOTIFY and cancels its token (the job ends deleted with the reason).
    /// </summary>
    public async Task<JobActionResult> CancelAsync(long id, string reason = "cancelled by operator", CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand("""
            with target as (
                select id, state from queue.jobs where id = @id for update
            ),
            changed as (
                update queue.jobs j
                set state = case when t.state = 'processing' then j.state else 'deleted' end,
                    finished_at = case when t.state = 'processing' then j.finished_at else now() end,
                    cancel_requested_at = case when t.state = 'processing' then now() else j.cancel_requested_at end,
                    reason = @reason
                from target t
                where j.id = t.id and t.state in ('scheduled', 'enqueued', 'processing')
                returning t.state as previous
            ),
            told as (
                select pg_notify('jobsd_cancel', @id::text) from changed where previous = 'processing'
            )
            select coalesce((select previous from changed), (select 'final:' || state from target)), (select count(*) from told)
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("reason", reason);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return reader.IsDBNull(0) ? JobActionResult.NotFound
            : reader.GetString(0) switch
            {
                "processing" => JobActionResult.CancelRequested,
                var s when s.StartsWith("final:", StringComparison.Ordinal) => JobActionResult.NotAllowed,
                _ => JobActionResult.Done,
            };
    }

    /// <summary>Requeues a failed or deleted job with a fresh set of attempts; its error history stays.</summary>
    public async Task<JobActionResult> RetryAsync(long id, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand("""
            with target as (select id, state from queue.jobs where id = @id),
            changed as (
                update queue.jobs j
                set state = 'enqueued', attempt = 0, scheduled_at = now(), finished_at = null,
                    node = null, cancel_requested_at = null, reason = null
                from target t
                where j.id = t.id and t.state in ('failed', 'deleted')
                returning j.id
            )
            select (select state from target), (select count(*) from changed)
            """);
        command.Parameters.AddWithValue("id", id);
        return await ActionResultAsync(command, ct);
    }

    /// <summary>Deletes a job that is not running (scheduled, enqueued or failed): it ends deleted. A running job must be cancelled.</summary>
    public async Task<JobActionResult> DeleteAsync(long id, string reason = "deleted by operator", CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand("""
            with target as (select id, state from queue.jobs where id = @id),
            changed as (
                update queue.jobs j
                set state = 'deleted', finished_at = now(), reason = @reason
                from target t
                where j.id = t.id and t.state in ('scheduled', 'enqueued', 'failed')
                returning j.id
            )
            select (select state from target), (select count(*) from changed)
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("reason", reason);
        return await ActionResultAsync(command, ct);
    }

    /// <summary>
    /// Pauses a queue cluster-wide: no node claims from it until it is resumed. Running jobs
    /// finish. The state lives in <c>queue.queues</c>, so it survives restarts and reaches every node.
    /// </summary>
    public Task PauseQueueAsync(string queue, CancellationToken ct = default) => SetPausedAsync(queue, true, ct);

    /// <summary>Resumes a paused queue; nodes are woken through NOTIFY and claim at once.</summary>
    public Task ResumeQueueAsync(string queue, CancellationToken ct = default) => SetPausedAsync(queue, false, ct);

    private async Task SetPausedAsync(string queue, bool paused, CancellationToken ct)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(queue, "^[a-z0-9][a-z0-9_.-]{0,63}$"))
        {
            throw new ArgumentException($"'{queue}' is not a queue name (lower-case letters, digits, '_', '.', '-')", nameof(queue));
        }
        await using var command = dataSource.CreateCommand("""
            insert into queue.queues (name, paused, paused_at, updated_at)
            values (@queue, @paused, case when @paused then now() end, now())
            on conflict (name) do update set paused = excluded.paused, paused_at = excluded.paused_at, updated_at = now();
            select pg_notify('jobsd_control', case when @paused then 'queue_paused:' else 'queue_resumed:' end || @queue);
            """);
        command.Parameters.AddWithValue("queue", queue);
        command.Parameters.AddWithValue("paused", paused);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<JobActionResult> ActionResultAsync(NpgsqlCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        if (reader.IsDBNull(0)) return JobActionResult.NotFound;
        return reader.GetInt64(1) == 1 ? JobActionResult.Done : JobActionResult.NotAllowed;
    }
}
