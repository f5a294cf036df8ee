-- A job's priority class (issue 12): what its request settled at the gateway. Null for jobs
-- recorded before priorities, which all ran as interactive work (the API shows them so).
alter table verification_jobs add column if not exists priority text check (priority in ('interactive', 'bulk'));
