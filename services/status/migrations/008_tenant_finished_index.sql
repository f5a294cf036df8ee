-- The dashboard's pipeline view (pipeline-stats.ts) reads a tenant's recently finished jobs:
-- completions and failures per minute over the last hour, and the most recent finished jobs
-- (their events give each stage's latency). Both are a range of this index, newest last, so
-- they cost the rows of that hour or that sample, never the tenant's whole history. Partial:
-- jobs in flight never touch it. On a large live table, build it first with CREATE INDEX
-- CONCURRENTLY under this name and the migration finds it.
create index if not exists verification_jobs_tenant_finished_idx
  on verification_jobs (tenant, completed_at, status) where status in ('completed', 'failed');
