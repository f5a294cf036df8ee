-- Batches (POST /api/verification-batches, gRPC SubmitBatch). A job names its batch in its
-- request (`request.batchId`); the batch itself is recorded from `batch.submitted`, which
-- says how many jobs it holds. Its counts are read from its jobs' rows, never kept twice.
-- (if not exists: a test that projects into an older schema adds the column the projection writes.)
alter table verification_jobs add column if not exists batch_id text;
-- A batch's jobs, newest first (the batch page), and its counts.
create index verification_jobs_batch_idx on verification_jobs (batch_id, created_at desc, id desc) where batch_id is not null;

create table verification_batches (
  id               text primary key,
  tenant           text not null,
  job_type         text not null,
  registry_address text not null,
  total            integer not null,
  rejected         integer not null default 0,
  callback_url     text,
  created_at       timestamptz not null,
  -- When its last job ended: set once, by the transaction that recorded that ending (the
  -- batch row is locked first, so two replicas ending its last two jobs cannot both miss it).
  completed_at     timestamptz,
  -- When batch.completed was published: a completion committed but not yet published (the
  -- replica died in between) is published by the next batch any replica projects.
  completion_published_at timestamptz
);
create index verification_batches_unpublished_idx on verification_batches (completed_at)
  where completed_at is not null and completion_published_at is null;
