import { ListJobsQuery, readQueryFields, refuseQueryProblems, type Query } from "@veriflow/api";
import type { JobStatus, JobType } from "@veriflow/events";
import { decodeJobCursor, type JobCursor } from "./job-cursor.js";

/** A REST list request: GET /api/verification-jobs?status=&type=&contentHash=&limit=&offset=|cursor= */
export interface ListQuery {
  status?: JobStatus;
  type?: JobType;
  /** Lower-case 0x-prefixed SHA-256 (given in any case). */
  contentHash?: string;
  limit: number;
  /** The old API's paging: rows skipped (0 with a cursor). */
  offset: number;
  /** The page after this position (a previous page's `nextCursor`). */
  cursor?: JobCursor;
}

/**
 * Validates `status`, `type`, `contentHash`, `limit` (default 20, clamped to 100), `offset` and
 * `cursor` with the schema the OpenAPI document publishes (ListJobsQuery, libs/api); every
 * problem at once. A cursor and a non-zero offset are two answers to "where does the page
 * start": asking both is refused rather than one silently winning.
 */
export function parseListQuery(query: Query): ListQuery {
  const { values, problems } = readQueryFields(ListJobsQuery, query);
  const cursor = readPageStart(values, problems);
  refuseQueryProblems(problems);
  // No problem: limit and offset were read (absent ones as their defaults).
  return {
    ...(values.status ? { status: values.status } : {}),
    ...(values.type ? { type: values.type } : {}),
    ...(values.contentHash ? { contentHash: values.contentHash.toLowerCase() } : {}),
    limit: values.limit!,
    offset: values.offset!,
    ...(cursor ? { cursor } : {}),
  };
}

/**
 * Where a list page starts (the job list's and the watch list's): after a `cursor` this server
 * issued, or at the old `offset`; a cursor it did not issue, or both at once, is a problem.
 */
export function readPageStart(values: { cursor?: string | undefined; offset?: number | undefined }, problems: string[]): JobCursor | undefined {
  const cursor = values.cursor === undefined ? undefined : decodeJobCursor(values.cursor);
  if (cursor === null) problems.push("cursor is not one this server issued (a nextCursor); start again without it");
  if (cursor && (values.offset ?? 0) > 0) problems.push("give offset or cursor, not both");
  return cursor ?? undefined;
}
