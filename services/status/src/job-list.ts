import type { Sql } from "@veriflow/pg";
import type { JobCursor } from "./job-cursor.js";
import type { JobFilter } from "./job-filter.js";
import { toJob, type Job, type JobRow } from "./store.js";

/** Which page: the first `limit` jobs after `after` (keyset), or after skipping `offset` (the old API's paging). */
export interface JobPageRequest {
  limit: number;
  after?: JobCursor;
  offset?: number;
}

export interface JobPage {
  jobs: Job[];
  /** Where the next page starts; null when this page holds the last matching job. */
  next: JobCursor | null;
}

/**
 * A page of a tenant's jobs matching the filter, newest first (created_at desc, id desc, a
 * total order). Every filter is served by an index that leads with the tenant and ends in that
 * order (migrations 005 and 007), so a page after a cursor costs the same at any depth; an
 * `offset` still reads and skips that many rows (kept for the old API's clients).
 */
export async function queryJobs(sql: Sql, tenant: string, filter: JobFilter, page: JobPageRequest): Promise<JobPage> {
  const conditions = [
    sql`tenant = ${tenant}`,
    filter.status ? sql`status = ${filter.status}` : null,
    filter.type ? sql`type = ${filter.type}` : null,
    filter.contentHash ? sql`content_hash = ${filter.contentHash}` : null,
    filter.createdAfter ? sql`created_at >= ${filter.createdAfter}` : null,
    filter.createdBefore ? sql`created_at < ${filter.createdBefore}` : null,
    page.after ? sql`(created_at, id) < (${page.after.createdAt}, ${page.after.id})` : null,
  ].filter((c) => c !== null);
  const where = conditions.reduce((acc, c, i) => (i === 0 ? sql`where ${c}` : sql`${acc} and ${c}`), sql``);
  // One row past the page says whether there is a next one.
  const rows = await sql<JobRow[]>`
    select * from verification_jobs ${where}
    order by created_at desc, id desc
    limit ${page.limit + 1} ${page.offset ? sql`offset ${page.offset}` : sql``}`;
  const jobs = rows.slice(0, page.limit).map(toJob);
  const last = jobs[jobs.length - 1];
  return { jobs, next: rows.length > page.limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}
