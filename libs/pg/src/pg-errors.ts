/**
 * Whether a PostgreSQL failure says the server could not serve us (down, restarting,
 * overloaded, a conflict worth retrying), as opposed to refusing this data. Told by
 * SQLSTATE classes and by the connection error codes of postgres.js and Node, never by
 * message text. A batch consumer retries the first kind as a whole and isolates the
 * events behind the second.
 */

/** SQLSTATE classes of a server that cannot serve now: connection (08), resources (53), operator intervention (57: shutdown, query cancelled), system (58), rollback (40: serialization, deadlock). */
const UNAVAILABLE_CLASSES = new Set(["08", "53", "57", "58", "40"]);
/** lock_not_available: a lock timeout. */
const UNAVAILABLE_STATES = new Set(["55P03"]);
/** postgres.js's own connection errors and Node's socket errors. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

export function isPostgresUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    if (CONNECTION_CODES.has(code) || UNAVAILABLE_STATES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_CLASSES.has(code.slice(0, 2))) return true;
  }
  return false;
}
