-- Wake-ups: one NOTIFY per queue that got runnable jobs, per statement (not per row), sent
-- at commit of the writer's transaction, so an idle node starts the job within milliseconds
-- and never before the job exists. Polling stays the guarantee; this is the hint.
--
-- Only a queue that had no other runnable job is notified. PostgreSQL serialises the commits
-- of all notifying transactions (one global lock held through the WAL flush), which caps a
-- notify-per-enqueue design at one commit per fsync. A queue with a backlog does not need the
-- hint: its nodes are busy and claim again as each job finishes (or at the next poll).
create or replace function queue.notify_enqueued() returns trigger
language plpgsql as $$
declare
    q text;
begin
    for q in select distinct n.queue from new_rows n where n.state = 'enqueued' loop
        if not exists (
            select 1 from queue.jobs j
            where j.queue = q and j.state = 'enqueued'
              and j.id not in (select n.id from new_rows n where n.queue = q)
        ) then
            perform pg_notify('jobsd_jobs', q);
        end if;
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
