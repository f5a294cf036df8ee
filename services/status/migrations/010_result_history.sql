-- A completed job may be re-verified (registry-watch starts run n + 1 when its registry entry
-- changes): the new run's verdict becomes `result`, and each earlier run's verdict is kept
-- here, in run order, as { run, status, reasons, blockNumber, completedAt, result }. Written
-- by the projection only (store.ts), in the same upsert that replaces `result`.
alter table verification_jobs add column result_history jsonb not null default '[]'::jsonb;
