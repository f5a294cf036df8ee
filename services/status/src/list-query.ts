import { CONTENT_HASH_PATTERN, JobType, jobStatuses, JOBS_PAGE_SIZE, type JobStatus } from "@veriflow/events";
import { decodeJobCursor, type JobCursor } from "./job-cursor.js";
import { readQuery, type Query } from "./query.js";

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
 * Validates `status`, `type`, `contentHash`, `limit` (default 20, clamped to 100), `offset` and `cursor`; every
 * problem at once. A cursor and a non-zero offset are two answers to "where does the page
 * start": asking both is refused rather than one silently winning.
 */
export function parseListQuery(query: Query): ListQuery {
  const q = readQuery(query);
  const status = q.single("status");
  if (status !== undefined && !(jobStatuses as readonly string[]).includes(status)) {
    q.problems.push(`status must be one of ${jobStatuses.join(", ")}, got "${status.slice(0, 32)}"`);
  }
  const type = q.single("type");
  if (type !== undefined && !JobType.options.includes(type as JobType)) {
    q.problems.push(`type must be one of ${JobType.options.join(", ")}, got "${type.slice(0, 32)}"`);
  }
  const contentHash = q.single("contentHash");
  if (contentHash !== undefined && !CONTENT_HASH_PATTERN.test(contentHash)) {
    q.problems.push(`contentHash must be 0x followed by 64 hex digits, got "${contentHash.slice(0, 80)}"`);
  }
  const limit = Math.min(q.count("limit", JOBS_PAGE_SIZE.default), JOBS_PAGE_SIZE.max);
  const offset = q.count("offset", 0);
  const rawCursor = q.single("cursor");
  const cursor = rawCursor === undefined ? undefined : decodeJobCursor(rawCursor);
  if (cursor === null) q.problems.push("cursor is not one this server issued (a nextCursor); start again without it");
  if (cursor && offset > 0) q.problems.push("give offset or cursor, not both");
  q.done();
  return {
    ...(status ? { status: status as JobStatus } : {}),
    ...(type ? { type: type as JobType } : {}),
    ...(contentHash ? { contentHash: contentHash.toLowerCase() } : {}),
    limit, offset, ...(cursor ? { cursor } : {}) };
}
