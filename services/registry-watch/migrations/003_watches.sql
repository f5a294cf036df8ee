-- Watches (POST /api/watches): jobs whose request gave the content hash (content.hashed's
-- `hashGiven`). Each watch is followed on its own: the "latest completed job of each (tenant,
-- content hash, manifest URI)" rule that spares re-verifying every upload of the same content
-- does not fold one watch into another, or into an upload's job.
alter table watched_jobs add column watch boolean not null default false;

-- Stopped watches (watch.stopped, DELETE /api/watches/:watchId): never re-verified again, and a
-- run already going reports no verification.changed. A table of its own, not a column of
-- watched_jobs: with several replicas a stop may be taken in before the job's content.hashed
-- (another replica holds it in a batch not yet committed), and the job's row is made by that.
create table stopped_watches (
  job_id     text primary key,
  stopped_at timestamptz not null
);
