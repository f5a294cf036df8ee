-- Retention (store.ts pruneJobs) deletes finished jobs oldest first, per status: it reads
-- this index in completed_at order. Partial: jobs in flight never touch it.
create index verification_jobs_finished_idx on verification_jobs (status, completed_at)
  where status in ('completed', 'failed');
