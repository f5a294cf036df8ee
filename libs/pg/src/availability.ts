import { HttpError, TransientError } from "@veriflow/errors";

/**
 * Whether PostgreSQL is there to answer, told by postgres.js's error codes, Node's socket
 * errors and SQLSTATE classes, never by message text. The one place that knows them.
 */

/** postgres.js's own connection errors, and the socket errors of Node under it. */
const CONNECTION_CODES = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs that mean "not now" rather than "never": the classes 08 (connection exception),
 * 40 (transaction rollback: serialization failure, deadlock), 53 (insufficient resources:
 * disk full, out of memory, too many connections) and 58 (system error); and 57P01–57P03
 * (admin or crash shutdown, cannot connect now: starting up or in recovery), 57014 (query
 * canceled: our statement_timeout) and 55P03 (lock not available). A batch consumer retries
 * these as a whole and isolates only the events behind any other error.
 */
const UNAVAILABLE_CLASSES = new Set(["08", "40", "53", "58"]);
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "57014", "55P03"]);

/** Thrown while a service's migrations have not been applied yet (PostgreSQL was down at start). */
export class DatabaseNotReadyError extends Error {
  override name = "DatabaseNotReadyError";
  constructor(message = "the database is not migrated yet (PostgreSQL was unreachable)", options?: { cause?: unknown }) {
    super(message, options);
  }
}

function saysUnavailable(e: object): boolean {
  if (e instanceof DatabaseNotReadyError) return true;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  if (CONNECTION_CODES.has(code)) return true;
  // A PostgresError carries the SQLSTATE as `code` (five characters).
  return (e as { name?: unknown }).name === "PostgresError" && (UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_SQLSTATES.has(code));
}

/**
 * True when an error (or one in its `cause` chain, or an AggregateError's `errors`) says
 * PostgreSQL could not be reached or did not answer in time: refused or lost connection,
 * connect or statement timeout, a server shutting down or starting up, migrations pending.
 */
export function isDatabaseUnavailableError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 8) return false;
  if (saysUnavailable(err)) return true;
  const nested = (err as { errors?: unknown }).errors;
  if (Array.isArray(nested) && nested.some((e) => isDatabaseUnavailableError(e, depth + 1))) return true;
  return isDatabaseUnavailableError((err as { cause?: unknown }).cause, depth + 1);
}

/** Seconds a client is told to wait (Retry-After) while the database is unavailable. */
export const DATABASE_RETRY_AFTER_S = 5;

/** The edge's answer while PostgreSQL is unavailable: 503 E_DATABASE_UNAVAILABLE with Retry-After (gRPC UNAVAILABLE). */
export function databaseUnavailable(cause?: unknown): HttpError {
  return new HttpError("E_DATABASE_UNAVAILABLE", "the database is not reachable right now; try again shortly", {
    cause,
    expose: true,
    retryAfterSeconds: DATABASE_RETRY_AFTER_S,
  });
}

/**
 * `err` as an edge answers it: database unavailability becomes databaseUnavailable(), and
 * so does any unexpected error while the migrations are pending (a query meets tables that
 * do not exist yet); an HttpError (a 4xx decided before any query) and anything else are unchanged.
 */
export function translateDatabaseError(err: unknown, db?: DatabaseReadiness): unknown {
  if (err instanceof HttpError) return err;
  return isDatabaseUnavailableError(err) || (db !== undefined && !db.isReady()) ? databaseUnavailable(err) : err;
}

/**
 * The same as Koa middleware (typed structurally: libs/pg needs no Koa): mount it after the
 * error handler, before the routes that query PostgreSQL.
 */
export function databaseErrors(db?: DatabaseReadiness): (ctx: unknown, next: () => Promise<unknown>) => Promise<void> {
  return async (_ctx, next) => {
    try {
      await next();
    } catch (err) {
      throw translateDatabaseError(err, db);
    }
  };
}

/**
 * For consumers: a database outage as a TransientError (E_DATABASE_UNAVAILABLE), so the
 * consume loop retries the batch later instead of treating its events as poison.
 */
export function asTransientDatabaseError(err: unknown): unknown {
  return isDatabaseUnavailableError(err) ? new TransientError("E_DATABASE_UNAVAILABLE", "the database is unavailable", { cause: err }) : err;
}

/**
 * A consumer's batch handler that waits for the migrations (a batch before them is retried)
 * and reports a database outage as transient: the projection, webhooks and registry-watch alike.
 */
export function withDatabase<A extends unknown[]>(db: { assertReady(): void }, handle: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      db.assertReady();
      await handle(...args);
    } catch (err) {
      throw asTransientDatabaseError(err);
    }
  };
}

/** What translateDatabaseError needs to know of the migrations (MigratedDatabase). */
export interface DatabaseReadiness {
  isReady(): boolean;
}
