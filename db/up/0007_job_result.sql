-- What a succeeded job reports about its work (counts, the build's outcome, …), shown to
-- operators next to its args. Small by contract: handlers keep it to a summary.
alter table queue.jobs add column result jsonb;
