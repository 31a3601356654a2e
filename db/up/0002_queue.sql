-- The job engine's tables. Hot-path queries and the index each one uses:
--   claim      jobs_claim_idx        (state = 'enqueued', by queue, priority, scheduled_at, id)
--   schedule   jobs_scheduled_idx    (state = 'scheduled', by scheduled_at)
--   rescue     jobs_processing_idx   (state = 'processing', by node)
--   prune      jobs_finished_idx     (final states, by finished_at)
--   complete   primary key
create schema queue;

create table queue.jobs (
    id bigint generated always as identity primary key,
    queue text not null default 'default' check (queue ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    kind text not null check (length(kind) between 1 and 200),
    args jsonb not null default '{}' check (jsonb_typeof(args) = 'object'),
    state text not null default 'enqueued'
        check (state in ('scheduled', 'enqueued', 'processing', 'succeeded', 'failed', 'deleted')),
    priority smallint not null default 0 check (priority >= 0),
    attempt integer not null default 0 check (attempt >= 0),
    max_attempts integer not null default 10 check (max_attempts >= 1),
    scheduled_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    node text,
    -- One entry per failed attempt: {at, attempt, node, type, message, stack}.
    errors jsonb not null default '[]' check (jsonb_typeof(errors) = 'array'),
    unique_key text,
    tags text[] not null default '{}',
    cancel_requested_at timestamptz,
    -- Why a job ended deleted or failed without an exception (cancelled by an operator, …).
    reason text
)
-- A queue table churns: every job is inserted, updated two or three times and deleted.
-- Vacuum early and often so dead tuples never pile up in the claim index, and leave room
-- on each page for HOT updates (state changes do not touch most indexed columns).
with (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 1
);

create index jobs_claim_idx on queue.jobs (queue, priority, scheduled_at, id) where state = 'enqueued';
create index jobs_scheduled_idx on queue.jobs (scheduled_at) where state = 'scheduled';
create index jobs_processing_idx on queue.jobs (node) where state = 'processing';
create index jobs_finished_idx on queue.jobs (finished_at) where state in ('succeeded', 'failed', 'deleted');
-- Operators list failed and deleted jobs newest first; other states have their own partial
-- index above, and "all jobs" or "succeeded" read the primary key backwards. No full index
-- on state: it would be written on every transition of every job.
create index jobs_failed_deleted_idx on queue.jobs (state, id desc) where state in ('failed', 'deleted');
-- A unique key is held only while its job is active; a finished job frees it.
create unique index jobs_unique_key_idx on queue.jobs (kind, unique_key)
    where unique_key is not null and state in ('scheduled', 'enqueued', 'processing');

-- Live jobsd processes. A node whose heartbeat is older than the node timeout is dead,
-- and its processing jobs are rescued.
create table queue.nodes (
    name text primary key,
    host text not null,
    pid integer not null,
    version text not null,
    queues jsonb not null default '{}',
    started_at timestamptz not null default now(),
    heartbeat_at timestamptz not null default now()
);

-- One row: the leader's lease. Renewed before it expires; taken over only after it did.
create table queue.leader (
    id integer primary key default 1 check (id = 1),
    node text not null,
    elected_at timestamptz not null default now(),
    expires_at timestamptz not null
);

-- Kinds some node can run, recorded by nodes at start, so queue.enqueue can refuse a
-- kind nobody handles.
create table queue.kinds (
    kind text primary key,
    queue text not null,
    max_attempts integer not null check (max_attempts >= 1),
    node text not null,
    seen_at timestamptz not null default now()
);

-- Queue control shared by all nodes (pause/resume).
create table queue.queues (
    name text primary key,
    paused boolean not null default false,
    paused_at timestamptz,
    updated_at timestamptz not null default now()
);

-- Per-minute outcome counts for graphs: kept small (one row per minute, queue and kind).
create table queue.stats (
    minute timestamptz not null,
    queue text not null,
    kind text not null,
    succeeded integer not null default 0,
    failed integer not null default 0,
    primary key (minute, queue, kind)
);
