-- registry-watch's tables (its own: no other service reads them).
--
-- The verifications it may re-verify: each job's latest run as its content.hashed envelope (a
-- new run of the job re-issues it at the manifest stage: the upload is long gone, the hash is
-- all the pipeline needs), and the verdict of its latest completed run, which the next one is
-- compared with (verification.changed). Jobs with a per-job rpcUrl read another chain: not kept.
create table watched_jobs (
  job_id           text primary key,
  tenant           text not null,
  content_hash     text not null,           -- lower-case
  registry_address text not null,           -- lower-case
  manifest_uri     text not null,
  run              integer not null,        -- the latest run started (a re-verification bumps it at once)
  hashed           jsonb not null,          -- the content.hashed envelope of the latest run seen
  verdict          jsonb,                   -- { status, reasons, blockNumber } of the latest completed run
  verdict_run      integer,
  completed_at     timestamptz,
  updated_at       timestamptz not null default now()
);
-- A registry log names (registry, content hash): the jobs to re-verify.
create index watched_jobs_entry_idx on watched_jobs (registry_address, content_hash);

-- The registries jobs have used, each with its checkpoint: the first block not read yet.
-- Every read starts reorg_depth blocks below it (a reorganisation may have replaced them) and
-- never below first_block (the block the first verdict on it was read at).
create table watched_registries (
  address     text primary key,             -- lower-case
  first_block bigint not null,
  next_block  bigint not null,
  updated_at  timestamptz not null default now()
);

-- The logs read in the re-read window, by block hash and index: a log read again is known
-- (no second registry.changed); a known log missing from a re-read left the chain.
create table registry_logs (
  registry_address text not null,
  block_number     bigint not null,
  block_hash       text not null,
  log_index        integer not null,
  tx_hash          text not null,
  content_hash     text not null,
  kind             text not null,
  manifest_uri     text not null,
  primary key (registry_address, block_hash, log_index)
);
create index registry_logs_block_idx on registry_logs (registry_address, block_number);
