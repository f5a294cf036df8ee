-- A list page (REST ?status=, gRPC ListJobs' filter) reads an index that leads with the tenant,
-- holds the filter's equalities next, and ends in the list's order (created_at desc, id desc):
-- the page is its first rows after the cursor, at any depth and with any number of jobs, and a
-- created_after/created_before range is a range of the same index. 005 has the tenant's
-- (no filter) and the tenant and status's ones; these serve the other filters:
--
--   type              → (tenant, type, …)
--   status and type   → (tenant, status, type, …): with only (status, …) a combination that
--                       matches few rows (failed proofs) would be looked for among all of them
--   content hash      → (tenant, content_hash, …), with any other filter: a hash has few jobs
--
-- On a large live table, build them first with CREATE INDEX CONCURRENTLY under these names:
-- the migration then finds them and only drops the index the hash one replaces.
create index if not exists verification_jobs_tenant_type_created_idx
  on verification_jobs (tenant, type, created_at desc, id desc);
create index if not exists verification_jobs_tenant_status_type_created_idx
  on verification_jobs (tenant, status, type, created_at desc, id desc);
create index if not exists verification_jobs_tenant_hash_created_idx
  on verification_jobs (tenant, content_hash, created_at desc, id desc) where content_hash is not null;
-- A hash's lookup across tenants: nothing asks for it since tenants came (005).
drop index if exists verification_jobs_content_hash_idx;
