using Dapper;
using Npgsql;

namespace Jobsd.Queue;

public sealed record JobSummary(long Id, string Queue, string Kind, string State, int Attempt, int MaxAttempts, short Priority,
    DateTime ScheduledAt, DateTime CreatedAt, DateTime? StartedAt, DateTime? FinishedAt, string? Node);

/// <summary>One job with everything an operator needs to judge it (Dapper fills it by property: text[] arrives untyped).</summary>
public sealed class JobDetail
{
    public long Id { get; init; }
    public string Queue { get; init; } = "";
    public string Kind { get; init; } = "";
    public string State { get; init; } = "";
    public int Attempt { get; init; }
    public int MaxAttempts { get; init; }
    public short Priority { get; init; }
    public DateTime ScheduledAt { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime? StartedAt { get; init; }
    public DateTime? FinishedAt { get; init; }
    public string? Node { get; init; }
    public string Args { get; init; } = "{}";
    public string Errors { get; init; } = "[]";
    public string? UniqueKey { get; init; }
    public string[] Tags { get; init; } = [];
    public DateTime? CancelRequestedAt { get; init; }
    public string? Reason { get; init; }

    /// <summary>What a succeeded job reported (pretty JSON), or null.</summary>
    public string? Result { get; init; }
}

public sealed record QueueSummary(string Queue, bool Paused, long Scheduled, long Enqueued, long Processing, long Succeeded, long Failed, long Deleted);

/// <param name="ArgsContains">A JSON object the args must contain (jsonb <c>@&gt;</c>), e.g. <c>{"build_job_id": "…"}</c>.</param>
public sealed record JobFilter(string? State = null, string? Queue = null, string? Kind = null, int Limit = 50, long? BeforeId = null, long? Id = null, string? ArgsContains = null);

/// <summary>
/// Read-only views for operators (CLI, dashboard, API), kept apart from the engine's hot path
/// as Hangfire keeps its monitoring API apart from its storage.
/// </summary>
public sealed class JobMonitor(NpgsqlDataSource dataSource)
{
    public static readonly string[] States = ["scheduled", "enqueued", "processing", "succeeded", "failed", "deleted"];

    public async Task<IReadOnlyList<JobSummary>> ListAsync(JobFilter filter, CancellationToken ct = default)
    {
        if (filter.State is not null && !States.Contains(filter.State))
        {
            throw new ArgumentException($"unknown state '{filter.State}' (one of: {string.Join(", ", States)})", nameof(filter));
        }
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<JobSummary>(new CommandDefinition("""
            select id, queue, kind, state, attempt, max_attempts as maxattempts, priority, scheduled_at as scheduledat,
                   created_at as createdat, started_at as startedat, finished_at as finishedat, node
            from queue.jobs
            where (@state::text is null or state = @state)
              and (@queue::text is null or queue = @queue)
              and (@kind::text is null or kind = @kind)
              and (@before::bigint is null or id < @before)
              and (@id::bigint is null or id = @id)
              and (@args::jsonb is null or args @> @args::jsonb)
            order by id desc
            limit @limit
            """, new { state = filter.State, queue = filter.Queue, kind = filter.Kind, before = filter.BeforeId, id = filter.Id, args = filter.ArgsContains, limit = Math.Clamp(filter.Limit, 1, 1000) },
            cancellationToken: ct));
        return rows.ToList();
    }

    public async Task<JobDetail?> GetAsync(long id, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<JobDetail>(new CommandDefinition("""
            select id, queue, kind, state, attempt, max_attempts as maxattempts, priority, scheduled_at as scheduledat,
                   created_at as createdat, started_at as startedat, finished_at as finishedat, node,
                   jsonb_pretty(args) as args, jsonb_pretty(errors) as errors, unique_key as uniquekey, tags,
                   cancel_requested_at as cancelrequestedat, reason, jsonb_pretty(result) as result
            from queue.jobs where id = @id
            """, new { id }, cancellationToken: ct));
    }

    /// <summary>Counts per queue and state, including queues that are only paused or only configured elsewhere.</summary>
    public async Task<IReadOnlyList<QueueSummary>> QueuesAsync(CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<QueueSummary>(new CommandDefinition("""
            with counts as (
                select queue, state, count(*) as n from queue.jobs group by queue, state
            ),
            names as (
                select queue as name from counts union select name from queue.queues
            )
            select n.name as queue, coalesce(q.paused, false) as paused,
                   coalesce(sum(c.n) filter (where c.state = 'scheduled'), 0)::bigint as scheduled,
                   coalesce(sum(c.n) filter (where c.state = 'enqueued'), 0)::bigint as enqueued,
                   coalesce(sum(c.n) filter (where c.state = 'processing'), 0)::bigint as processing,
                   coalesce(sum(c.n) filter (where c.state = 'succeeded'), 0)::bigint as succeeded,
                   coalesce(sum(c.n) filter (where c.state = 'failed'), 0)::bigint as failed,
                   coalesce(sum(c.n) filter (where c.state = 'deleted'), 0)::bigint as deleted
            from names n
            left join queue.queues q on q.name = n.name
            left join counts c on c.queue = n.name
            group by n.name, q.paused
            order by n.name
            """, cancellationToken: ct));
        return rows.ToList();
    }
}
