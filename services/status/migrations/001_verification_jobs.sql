-- The status projection: one row per job, folded from the pipeline's events,
-- and each job's event history. Rows are written only by the projection (store.ts).

create table verification_jobs (
  id               text primary key,              -- the job id (the request event's id)
  type             text check (type in ('verify', 'proof')),  -- null until an event carrying it is seen
  status           text not null check (status in ('queued', 'processing', 'completed', 'failed')),
  progress         integer not null default 0 check (progress between 0 and 100),
  content_hash     text,
  manifest_uri     text,
  registry_address text,
  rpc_url          text,
  file_name        text,
  file_size        bigint,
  result           jsonb,                         -- the verify result or proof document
  error            jsonb,                         -- { stage, code, message, attempts }
  retry_count      integer not null default 0,
  created_at       timestamptz not null,          -- earliest event seen (the request's time)
  started_at       timestamptz,
  completed_at     timestamptz,
  updated_at       timestamptz not null default now(),
  last_event_at    timestamptz not null
);

-- Listing newest first, over all jobs or one status.
create index verification_jobs_created_idx on verification_jobs (created_at desc, id desc);
create index verification_jobs_status_created_idx on verification_jobs (status, created_at desc, id desc);
create index verification_jobs_content_hash_idx on verification_jobs (content_hash) where content_hash is not null;

create table verification_job_events (
  event_id     text primary key,                 -- the envelope id: redeliveries insert nothing
  job_id       text not null,
  type         text not null,
  occurred_at  timestamptz not null,
  causation_id text,
  data         jsonb not null,
  recorded_at  timestamptz not null default now()
);

create index verification_job_events_job_idx on verification_job_events (job_id, occurred_at, recorded_at);

-- queued < processing < completed = failed: a job never moves down this order.
create function verification_job_status_rank(status text) returns integer
  language sql immutable parallel safe
  as $$ select case status when 'queued' then 0 when 'processing' then 1 else 2 end $$;
