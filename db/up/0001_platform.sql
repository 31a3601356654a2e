-- The system of record the job families read and write. UUID keys, timestamptz,
-- CHECK constraints on every status column. updated_at columns are maintained by the
-- set_updated_at trigger, attached in db/permissions/updated_at_triggers.sql.

create table teams (
    id uuid primary key default gen_random_uuid(),
    name text not null unique check (length(name) between 1 and 200),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table projects (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references teams (id) on delete cascade,
    name text not null check (length(name) between 1 and 200),
    repo_url text not null,
    default_branch text not null default 'main',
    build_settings jsonb not null default '{}' check (jsonb_typeof(build_settings) = 'object'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (team_id, name)
);

create table environments (
    id uuid primary key default gen_random_uuid(),
    project_id uuid not null references projects (id) on delete cascade,
    pr_number integer check (pr_number > 0),
    branch text not null,
    commit_sha text,
    subdomain_hash text not null unique,
    vm_id text,
    status text not null default 'pending'
        check (status in ('pending', 'building', 'deploying', 'ready', 'failed', 'terminated', 'reaped')),
    last_heartbeat_at timestamptz,
    terminated_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((status in ('terminated', 'reaped')) = (terminated_at is not null))
);
create index environments_project_idx on environments (project_id);
-- The reaper looks for live environments whose heartbeat stopped.
create index environments_live_heartbeat_idx on environments (last_heartbeat_at)
    where status in ('pending', 'building', 'deploying', 'ready');

create table workflow_runs (
    id uuid primary key default gen_random_uuid(),
    environment_id uuid not null references environments (id) on delete cascade,
    trigger text not null check (trigger in ('push', 'pull_request', 'manual', 'schedule', 'api')),
    status text not null default 'queued'
        check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    result jsonb,
    error text,
    queued_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index workflow_runs_environment_idx on workflow_runs (environment_id, created_at desc);
create index workflow_runs_active_idx on workflow_runs (status) where status in ('queued', 'running');

create table build_jobs (
    id uuid primary key default gen_random_uuid(),
    workflow_run_id uuid not null references workflow_runs (id) on delete cascade,
    name text not null check (length(name) between 1 and 200),
    architecture text not null default 'amd64' check (architecture in ('amd64', 'arm64', 'multi')),
    context_path text not null default '.',
    dockerfile_path text not null default 'Dockerfile',
    status text not null default 'queued'
        check (status in ('queued', 'provisioning', 'running', 'completed', 'failed', 'cancelled')),
    queued_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    duration_ms bigint check (duration_ms >= 0),
    artifact_url text,
    exit_code integer,
    error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index build_jobs_workflow_run_idx on build_jobs (workflow_run_id);
-- Reaping finds builds that claim to run.
create index build_jobs_active_idx on build_jobs (started_at) where status in ('provisioning', 'running');

create table build_logs (
    id bigint generated always as identity primary key,
    build_job_id uuid not null references build_jobs (id) on delete cascade,
    logged_at timestamptz not null default now(),
    stream text not null check (stream in ('stdout', 'stderr')),
    line text not null
);
create index build_logs_build_job_idx on build_logs (build_job_id, id);
-- Retention deletes old lines by time.
create index build_logs_logged_at_idx on build_logs using brin (logged_at);

create table agent_connections (
    id uuid primary key default gen_random_uuid(),
    environment_id uuid not null references environments (id) on delete cascade,
    agent_id text not null,
    token_hash text not null,
    status text not null default 'connected' check (status in ('connected', 'disconnected', 'stale')),
    last_seen_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (environment_id, agent_id)
);
create index agent_connections_connected_seen_idx on agent_connections (last_seen_at) where status = 'connected';

-- Range-partitioned by month; the partitions job keeps future months and retention.
create table audit_events (
    id uuid not null default gen_random_uuid(),
    created_at timestamptz not null default now(),
    team_id uuid,
    actor text not null,
    action text not null,
    target_type text,
    target_id text,
    data jsonb not null default '{}',
    primary key (id, created_at)
) partition by range (created_at);
create table audit_events_default partition of audit_events default;
create index audit_events_team_created_idx on audit_events (team_id, created_at);

create table connectors (
    id uuid primary key default gen_random_uuid(),
    team_id uuid not null references teams (id) on delete cascade,
    name text not null,
    provider text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (team_id, name)
);

-- Secrets are AES-256-GCM ciphertexts (nonce || ciphertext || tag); the key never lives here.
create table oauth_credentials (
    id uuid primary key default gen_random_uuid(),
    connector_id uuid not null unique references connectors (id) on delete cascade,
    token_endpoint text not null check (token_endpoint ~ '^https?://'),
    client_id text not null,
    client_secret_encrypted bytea,
    refresh_token_encrypted bytea,
    access_token_encrypted bytea,
    scope text,
    expires_at timestamptz,
    status text not null default 'active' check (status in ('active', 'reauth_required', 'disabled')),
    failure_count integer not null default 0 check (failure_count >= 0),
    next_attempt_at timestamptz,
    last_error text,
    last_refreshed_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- Token refresh picks active credentials expiring soon.
create index oauth_credentials_active_expiry_idx on oauth_credentials (expires_at) where status = 'active';

create table refresh_tokens (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null,
    token_hash text not null unique,
    expires_at timestamptz not null,
    revoked_at timestamptz,
    created_at timestamptz not null default now()
);
create index refresh_tokens_expires_idx on refresh_tokens (expires_at);
