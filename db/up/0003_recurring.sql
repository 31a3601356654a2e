-- Recurring jobs: one row per schedule. The leader's cron enqueuer reads the due rows
-- (recurring_due_idx) and, per row and in one transaction, enqueues the fire's job and
-- advances next_run_at under the row lock, so each fire time is enqueued exactly once, also
-- across a leader change. `enabled` comes from the definition (code or configuration);
-- `paused` is the operator's switch and survives restarts and re-synchronisation.
create table queue.recurring (
    name            text primary key check (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    cron            text not null check (length(cron) between 1 and 200),
    time_zone       text not null default 'UTC',
    kind            text not null check (length(kind) between 1 and 200),
    args            jsonb not null default '{}' check (jsonb_typeof(args) = 'object'),
    queue           text check (queue ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    priority        smallint not null default 0 check (priority >= 0),
    max_attempts    integer check (max_attempts >= 1),
    -- After downtime: once = one run now for everything missed; all = one run per missed fire
    -- (at most max_catch_up, the most recent); skip = wait for the next fire.
    misfire         text not null default 'once' check (misfire in ('once', 'all', 'skip')),
    -- skip = no new run while the previous one is scheduled, enqueued or processing.
    overlap         text not null default 'allow' check (overlap in ('allow', 'skip')),
    max_catch_up    integer not null default 100 check (max_catch_up between 1 and 10000),
    enabled         boolean not null default true,
    paused          boolean not null default false,
    next_run_at     timestamptz,
    last_run_at     timestamptz,
    last_job_id     bigint,
    last_skipped_at timestamptz,
    skipped_count   bigint not null default 0,
    last_error      text,
    source          text not null check (source in ('code', 'config', 'api')),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

create index recurring_due_idx on queue.recurring (next_run_at) where enabled and not paused;
