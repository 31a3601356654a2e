-- The reaper records when it marked an agent connection disconnected.
alter table agent_connections add column disconnected_at timestamptz;
