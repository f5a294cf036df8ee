-- A failed job may be retried (POST /api/verification-jobs/:jobId/retry): the retry is run
-- n + 1 of the same job id, and its events carry that run in their envelope. The row holds
-- the latest run's state (projection.ts); the history keeps every run's events.
alter table verification_jobs add column run integer not null default 1 check (run >= 1);
alter table verification_job_events add column run integer not null default 1 check (run >= 1);
