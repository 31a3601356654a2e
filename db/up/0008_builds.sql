-- Builds (issue 6): what the build runner records in the system of record.

-- Concurrent builds per team across all nodes; a build over the limit waits (snoozed).
alter table teams add column max_concurrent_builds integer not null default 4
    check (max_concurrent_builds between 1 and 1000);

-- image_tag: given by the enqueuer, or expanded from Builds:ImageTag.
-- vm_id: the node running the build. job_id: the queue job that runs it, so a second job for
-- the same build never runs it twice and the reaper can tell an abandoned build.
alter table build_jobs
    add column image_tag text check (length(image_tag) between 1 and 500),
    add column vm_id text,
    add column job_id bigint,
    add column duration_seconds numeric generated always as (round(duration_ms / 1000.0, 3)) stored;

-- A workflow run is building from its first started build, then completed, failed or cancelled
-- once all its build jobs are final. Earlier names are carried over.
alter table workflow_runs drop constraint workflow_runs_status_check;
update workflow_runs set status = 'building' where status = 'running';
update workflow_runs set status = 'completed' where status = 'succeeded';
alter table workflow_runs add constraint workflow_runs_status_check
    check (status in ('queued', 'building', 'completed', 'failed', 'cancelled'));
alter table workflow_runs add column duration_ms bigint check (duration_ms >= 0);
drop index workflow_runs_active_idx;
create index workflow_runs_active_idx on workflow_runs (status) where status in ('queued', 'building');
