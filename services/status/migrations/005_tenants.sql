-- Every job belongs to a tenant (the envelope's `tenant`; events from before tenants belong to
-- 'default'). Every read is one tenant's, so the listing indexes lead with the tenant; the
-- indexes they replace served listings over all jobs, which nothing asks for any more.
alter table verification_jobs add column tenant text not null default 'default';

drop index verification_jobs_created_idx;
drop index verification_jobs_status_created_idx;
-- A tenant's jobs newest first (REST list, ListJobs pages), and its counts (stats).
create index verification_jobs_tenant_created_idx on verification_jobs (tenant, created_at desc, id desc);
-- The same for one status.
create index verification_jobs_tenant_status_created_idx on verification_jobs (tenant, status, created_at desc, id desc);
