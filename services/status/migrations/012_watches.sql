-- Watches (POST /api/watches): a content hash followed without uploading it again. A watch is a
-- job whose request gives the hash instead of a file (verification.requested with `contentHash`);
-- the job row holds its verdict and verdict history like any job's. This table says which jobs
-- are watches, what they asked for that the job row does not keep, and whether they were stopped
-- (DELETE: watch.stopped). Written by the projection only (watch-store.ts), in its transaction.
create table watches (
  job_id          text primary key,
  tenant          text not null,
  callback_url    text,
  recheck_every_s integer,
  created_at      timestamptz not null,
  stopped_at      timestamptz
);
-- A tenant's watches newest first (GET /api/watches, gRPC ListWatches).
create index watches_tenant_created_idx on watches (tenant, created_at desc, job_id desc);
