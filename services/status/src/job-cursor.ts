import { isJobId } from "@veriflow/events";

/**
 * Where a keyset page starts: after this job in the newest-first order (created_at desc, id desc).
 * created_at is always whole milliseconds (the projection writes it from JS Dates), so a Date
 * holds it exactly and `(created_at, id) < (cursor)` skips and repeats nothing.
 */
export interface JobCursor {
  createdAt: Date;
  id: string;
}

/** The years a Timestamp (and so a gRPC filter) can name: a cursor outside them is not one we issued. */
const [MIN_YEAR, MAX_YEAR] = [1, 9999];

/**
 * Cursors are opaque to clients (REST `cursor`/`nextCursor`, gRPC `page_token`): base64url
 * JSON of where the next page starts. One format for both edges, so a token from either works on
 * both, and tokens issued before a deploy still work after it.
 */
export function encodeJobCursor(cursor: JobCursor): string {
  return Buffer.from(JSON.stringify({ c: cursor.createdAt.toISOString(), i: cursor.id })).toString("base64url");
}

/** The position a token names, or null when it is not one this server issued. */
export function decodeJobCursor(token: string): JobCursor | null {
  try {
    const { c, i } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { c?: unknown; i?: unknown };
    // The id is a job's, a uuid: anything else (a NUL PostgreSQL cannot take) is no cursor of ours.
    if (typeof c !== "string" || typeof i !== "string" || !isJobId(i)) return null;
    const createdAt = new Date(c);
    const year = createdAt.getUTCFullYear();
    return Number.isNaN(year) || year < MIN_YEAR || year > MAX_YEAR ? null : { createdAt, id: i };
  } catch {
    return null;
  }
}
