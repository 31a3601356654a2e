-- Wake-ups: one NOTIFY per queue that got runnable jobs, per statement (not per row), sent
-- at commit of the writer's transaction, so an idle node starts the job within milliseconds
-- and never before the job exists. Polling stays the guarantee; this is the hint.
create or replace function queue.notify_enqueued() returns trigger
language plpgsql as $$
declare
    q text;
begin
    for q in select distinct n.queue from new_rows n where n.state = 'enqueued' loop
        perform pg_notify('jobsd_jobs', q);
    end loop;
    return null;
end;
$$;

drop trigger if exists jobs_notify_insert on queue.jobs;
create trigger jobs_notify_insert after insert on queue.jobs
    referencing new table as new_rows
    for each statement execute function queue.notify_enqueued();

drop trigger if exists jobs_notify_update on queue.jobs;
create trigger jobs_notify_update after update on queue.jobs
    referencing new table as new_rows
    for each statement execute function queue.notify_enqueued();
