import postgres from "postgres";
import type { Logger } from "@veriflow/platform";

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

export interface ConnectPostgresOptions {
  /** Pool size. Default 10: enough for a projection batch plus API reads per replica. */
  max?: number;
  /** Seconds an idle connection stays open. Default 30. */
  idleTimeout?: number;
  /** Milliseconds allowed to establish a connection (then CONNECT_TIMEOUT). Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Milliseconds a statement may run before the server cancels it (`statement_timeout`,
   * SQLSTATE 57014). Default 30 000; 0: no limit. Migrations lift it for their own transaction.
   */
  statementTimeoutMs?: number;
  /** Notices are dropped unless a logger is given (then logged at debug). */
  log?: Logger;
  /** The application_name shown in pg_stat_activity. */
  applicationName?: string;
}

/**
 * Column names only: rows come back camelCased, and identifiers passed through
 * `sql(obj)` / `sql("name")` go out snake_cased. Unlike `postgres.camel`, this does
 * not rewrite keys inside json/jsonb values, so stored documents (results, event data)
 * come back exactly as they were written.
 */
const camelColumns = { column: { from: postgres.toCamel, to: postgres.fromCamel } };

/** What connectPostgres does unless told otherwise (and what readPostgresConfig defaults to). */
export const POSTGRES_DEFAULTS = { max: 10, connectTimeoutMs: 5000, statementTimeoutMs: 30_000 } as const;

/**
 * Opens a lazily-connecting pool; `await sql.end()` closes it. Connecting is bounded
 * (`connectTimeoutMs`) and so is every statement (`statementTimeoutMs`, sent as the
 * session's statement_timeout), so a stalled server answers an error instead of a hang.
 */
export function connectPostgres(url: string, opts: ConnectPostgresOptions = {}): Sql {
  const log = opts.log;
  const connection: Record<string, string | number> = {
    statement_timeout: opts.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs,
  };
  if (opts.applicationName) connection.application_name = opts.applicationName;
  return postgres(url, {
    max: opts.max ?? POSTGRES_DEFAULTS.max,
    idle_timeout: opts.idleTimeout ?? 30,
    connect_timeout: (opts.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs) / 1000,
    transform: camelColumns,
    onnotice: log ? (notice) => log.debug({ notice: notice.message }, "postgres notice") : () => {},
    connection,
  });
}

/**
 * Answers true when the server accepts a trivial query within `timeoutMs` (default 2 s),
 * for /readyz: a probe answers quickly even while connecting would hang.
 */
export async function pingPostgres(sql: Sql, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const query = sql`select 1`.then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
