-- Scheduled re-checks (a job's recheckEvery): its period, and when the next is due. Armed when
-- a run of the job ends (its verdict or its failure), cleared when the re-check starts, so a
-- job has at most one re-check in flight and a slow run never piles them up. Replicas take due
-- rows FOR UPDATE SKIP LOCKED (store.ts takeDueRechecks): each due re-check starts once.
alter table watched_jobs add column recheck_every_s integer check (recheck_every_s > 0);
alter table watched_jobs add column next_recheck_at timestamptz;
create index watched_jobs_due_idx on watched_jobs (next_recheck_at) where next_recheck_at is not null;
