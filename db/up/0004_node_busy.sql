-- Busy workers per queue on each node, written with every heartbeat (the dashboard's Nodes
-- page and the per-queue busy/total figures read it; a few seconds stale at most).
alter table queue.nodes add column busy jsonb not null default '{}';
