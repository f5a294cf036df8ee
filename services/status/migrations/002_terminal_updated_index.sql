-- The watch safety net re-reads jobs that turned terminal recently (job-changes.ts).
-- Partial: rows still in flight never touch it, and terminal rows are rarely written again.
create index verification_jobs_terminal_updated_idx on verification_jobs (updated_at)
  where status in ('completed', 'failed');
