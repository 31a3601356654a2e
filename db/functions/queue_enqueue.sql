-- Enqueue from SQL, inside the caller's transaction: the job exists only if their write
-- commits. Returns the job id and whether an active job with the same (kind, unique_key)
-- already existed (then that job's id).
create or replace function queue.enqueue_job(
    kind text,
    args jsonb default '{}',
    queue text default null,
    run_at timestamptz default null,
    priority integer default 0,
    max_attempts integer default null,
    unique_key text default null,
    tags text[] default '{}',
    allow_unknown boolean default false
) returns table (id bigint, existing boolean)
language plpgsql as $$
#variable_conflict use_column
declare
    p_kind text := enqueue_job.kind;
    p_args jsonb := enqueue_job.args;
    p_queue text := enqueue_job.queue;
    p_run_at timestamptz := enqueue_job.run_at;
    p_priority integer := enqueue_job.priority;
    p_max_attempts integer := enqueue_job.max_attempts;
    p_unique_key text := enqueue_job.unique_key;
    known queue.kinds%rowtype;
    new_id bigint;
    known_kinds text;
begin
    if p_kind is null or length(trim(p_kind)) = 0 then
        raise exception 'queue.enqueue: kind must not be empty' using errcode = '22023';
    end if;
    if p_args is null or jsonb_typeof(p_args) <> 'object' then
        raise exception 'queue.enqueue: args must be a JSON object, got %', coalesce(jsonb_typeof(p_args), 'null')
            using errcode = '22023';
    end if;
    if p_priority is null or p_priority < 0 or p_priority > 32767 then
        raise exception 'queue.enqueue: priority must be between 0 and 32767 (lower runs first), got %', coalesce(p_priority::text, 'null')
            using errcode = '22023';
    end if;
    if p_max_attempts is not null and p_max_attempts < 1 then
        raise exception 'queue.enqueue: max_attempts must be at least 1, got %', p_max_attempts using errcode = '22023';
    end if;

    select * into known from queue.kinds k where k.kind = p_kind;
    if not found and not enqueue_job.allow_unknown then
        select string_agg(k.kind, ', ' order by k.kind) into known_kinds from queue.kinds k;
        raise exception 'queue.enqueue: unknown kind "%"; known kinds: %', p_kind, coalesce(known_kinds, '(none: no node has started yet)')
            using errcode = '22023', hint = 'Check the spelling, start a node that handles it, or pass allow_unknown => true.';
    end if;

    -- A conflicting job may finish between the insert and the select; then try again.
    for round in 1..3 loop
        insert into queue.jobs as j (queue, kind, args, state, priority, max_attempts, scheduled_at, unique_key, tags)
        values (
            coalesce(p_queue, known.queue, 'default'),
            p_kind,
            p_args,
            case when p_run_at is not null and p_run_at > now() then 'scheduled' else 'enqueued' end,
            p_priority,
            coalesce(p_max_attempts, known.max_attempts, 10),
            coalesce(p_run_at, now()),
            p_unique_key,
            coalesce(enqueue_job.tags, '{}')
        )
        on conflict (kind, unique_key) where unique_key is not null and state in ('scheduled', 'enqueued', 'processing')
        do nothing
        returning j.id into new_id;

        if new_id is not null then
            return query select new_id, false;
            return;
        end if;
        select j.id into new_id from queue.jobs j
        where j.kind = p_kind and j.unique_key = p_unique_key
          and j.state in ('scheduled', 'enqueued', 'processing');
        if new_id is not null then
            return query select new_id, true;
            return;
        end if;
    end loop;
    raise exception 'queue.enqueue: unique key "%" of kind "%" kept changing hands; try again', p_unique_key, p_kind
        using errcode = '40001';
end;
$$;

-- The short form other systems call: returns just the id (the existing job's id when the
-- unique key is active).
create or replace function queue.enqueue(
    kind text,
    args jsonb default '{}',
    queue text default null,
    run_at timestamptz default null,
    priority integer default 0,
    max_attempts integer default null,
    unique_key text default null,
    tags text[] default '{}',
    allow_unknown boolean default false
) returns bigint
language sql as $$
    select e.id from queue.enqueue_job(kind, args, queue, run_at, priority, max_attempts, unique_key, tags, allow_unknown) e;
$$;
