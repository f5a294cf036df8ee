import type { JobStatus } from "@veriflow/events";
import type { Sql } from "@veriflow/pg";

/**
 * Reads of the counters (verification_job_counts, migration 006): a tenant's count in a status
 * is the sum of its few rows there, kept exact by triggers in every transaction that writes
 * verification_jobs. Each read costs the same at a million jobs as at ten. Sums come back as
 * float8: postgres.js reads a bigint as a string, and a double holds any count below 2^53 exactly.
 */

/** How many of a tenant's jobs are in each status (every status present, zero when none). */
export async function countByStatus(sql: Sql, tenant: string): Promise<Record<JobStatus, number>> {
  const rows = await sql<{ status: JobStatus; jobs: number }[]>`
    select status, sum(jobs)::float8 as jobs from verification_job_counts where tenant = ${tenant} group by status`;
  const counts: Record<JobStatus, number> = { queued: 0, processing: 0, completed: 0, failed: 0 };
  for (const r of rows) counts[r.status] = r.jobs;
  return counts;
}

/** How many of a tenant's jobs there are, in one status or in all. */
export async function countJobs(sql: Sql, tenant: string, status?: JobStatus): Promise<number> {
  const [row] = await sql<{ jobs: number }[]>`
    select coalesce(sum(jobs), 0)::float8 as jobs from verification_job_counts
    where tenant = ${tenant} ${status ? sql`and status = ${status}` : sql``}`;
  return row?.jobs ?? 0;
}
