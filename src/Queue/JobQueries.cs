namespace Jobsd.Queue;

/// <summary>
/// Every statement of the engine on <c>queue.jobs</c>, in one place. Each hot-path statement
/// is one round trip and uses an index (named beside it; <c>JobQueriesPlanTests</c> checks the
/// plans with EXPLAIN).
/// </summary>
internal static class JobQueries
{
    /// <summary>
    /// Claim up to @limit runnable jobs of one queue (jobs_claim_idx). The CTE with LIMIT and
    /// SKIP LOCKED picks rows no other node is claiming and keeps the planner from touching
    /// more rows than the free worker slots; a paused queue yields nothing.
    /// </summary>
    public const string Claim = """
        with next as (
            select id from queue.jobs
            where state = 'enqueued' and queue = @queue
              and not exists (select 1 from queue.queues q where q.name = @queue and q.paused)
            order by priority, scheduled_at, id
            limit @limit
            for update skip locked
        )
        update queue.jobs j
        set state = 'processing', attempt = j.attempt + 1, started_at = now(), node = @node
        from next
        where j.id = next.id
        returning j.id, j.queue, j.kind, j.args::text, j.attempt, j.max_attempts, j.scheduled_at, j.started_at
        """;

    /// <summary>
    /// Record many outcomes in one statement (primary key). Fenced: a row changes only while
    /// it is still processing on this node in the same attempt, so a late finisher never
    /// overwrites a job that was rescued meanwhile. Per-minute stats are counted in the same
    /// round trip.
    /// <para>
    /// The fence is wrapped in <c>is true</c> so the planner can neither match it to
    /// jobs_processing_idx nor use it as an index condition. Statistics taken while few jobs
    /// were processing make that index look like one row; a cached generic plan then scans all
    /// of this node's processing jobs once per outcome — quadratic, and self-reinforcing, since a
    /// slower completer leaves more jobs processing. Driving by primary key costs the same at
    /// any backlog.
    /// </para>
    /// </summary>
    public const string Complete = """
        with input as (
            select * from unnest(@ids, @attempts, @states, @run_ats, @errors, @reasons, @uncount, @results)
                as u(id, attempt, state, run_at, error, reason, uncount, result)
        ),
        done as (
            update queue.jobs j
            set state = i.state,
                finished_at = case when i.state in ('succeeded', 'failed', 'deleted') then now() end,
                scheduled_at = coalesce(i.run_at, j.scheduled_at),
                errors = case when i.error is null then j.errors else j.errors || jsonb_build_array(i.error::jsonb) end,
                attempt = case when i.uncount then j.attempt - 1 else j.attempt end,
                -- An operator's reason, recorded with the cancel request, wins over a generic one.
                reason = case when i.state = 'deleted' then coalesce(j.reason, i.reason) else coalesce(i.reason, j.reason) end,
                node = case when i.state in ('scheduled', 'enqueued') then null else j.node end,
                result = case when i.state = 'succeeded' then i.result::jsonb end
            from input i
            where j.id = i.id and (j.attempt = i.attempt and j.node = @node and j.state = 'processing') is true
            returning j.id, j.queue, j.kind, j.state
        ),
        counted as (
            insert into queue.stats as s (minute, queue, kind, succeeded, failed)
            select date_trunc('minute', now()), queue, kind,
                   count(*) filter (where state = 'succeeded'), count(*) filter (where state = 'failed')
            from done where state in ('succeeded', 'failed')
            group by queue, kind
            on conflict (minute, queue, kind) do update
            set succeeded = s.succeeded + excluded.succeeded, failed = s.failed + excluded.failed
        )
        select id from done
        """;

    /// <summary>Success inside a handler's own transaction; the same fence as <see cref="Complete"/>.</summary>
    public const string CompleteOne = """
        with done as (
            update queue.jobs
            set state = 'succeeded', finished_at = now(), result = @result::jsonb
            where id = @id and (attempt = @attempt and node = @node and state = 'processing') is true
            returning queue, kind
        ),
        counted as (
            insert into queue.stats as s (minute, queue, kind, succeeded, failed)
            select date_trunc('minute', now()), queue, kind, 1, 0 from done
            on conflict (minute, queue, kind) do update set succeeded = s.succeeded + 1
        )
        select count(*) from done
        """;

    /// <summary>Due scheduled jobs become enqueued (jobs_scheduled_idx); the update trigger notifies.</summary>
    public const string EnqueueDue = """
        with due as (
            select id from queue.jobs
            where state = 'scheduled' and scheduled_at <= @now
            order by scheduled_at
            limit @limit
            for update skip locked
        )
        update queue.jobs j set state = 'enqueued' from due where j.id = due.id
        """;

    /// <summary>
    /// Processing jobs of nodes whose heartbeat expired (or whose row is gone) go back to
    /// retry, with an error entry naming the lost node (jobs_processing_idx). Rescue is by
    /// heartbeat, never by elapsed time: a long job on a live node is never run twice.
    /// </summary>
    public const string Rescue = """
        with lost as (
            select j.id, j.node as lost_node from queue.jobs j
            where j.state = 'processing'
              and not exists (
                  select 1 from queue.nodes n
                  where n.name = j.node and n.heartbeat_at > now() - @nodeTimeout)
            limit @limit
            for update of j skip locked
        )
        update queue.jobs j
        set state = case when j.attempt >= j.max_attempts then 'failed' else 'enqueued' end,
            finished_at = case when j.attempt >= j.max_attempts then now() end,
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', j.attempt, 'node', j.node, 'type', 'NodeLost',
                'message', format('node %s stopped heartbeating while running this job', j.node))),
            node = null
        from lost
        where j.id = lost.id
        returning j.id, lost.lost_node, j.state
        """;

    /// <summary>Delete finished jobs past retention, a batch at a time (jobs_finished_idx).</summary>
    public const string Prune = """
        with old as (
            select id from queue.jobs
            where state in ('succeeded', 'failed', 'deleted')
              and finished_at < now() - @shortest
              and finished_at < now() - case state
                    when 'succeeded' then @succeeded
                    when 'failed' then @failed
                    else @deleted end
            limit @limit
        )
        delete from queue.jobs j using old where j.id = old.id
        """;
}
