import postgres from "postgres";
import type { Logger } from "@veriflow/platform";

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

export interface ConnectPostgresOptions {
  /** Pool size. Default 10: enough for a projection batch plus API reads per replica. */
  max?: number;
  /** Seconds an idle connection stays open. Default 30. */
  idleTimeout?: number;
  /** Seconds allowed to establish a connection. Default 10. */
  connectTimeout?: number;
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

/** Opens a lazily-connecting pool; `await sql.end()` closes it. */
export function connectPostgres(url: string, opts: ConnectPostgresOptions = {}): Sql {
  const log = opts.log;
  return postgres(url, {
    max: opts.max ?? 10,
    idle_timeout: opts.idleTimeout ?? 30,
    connect_timeout: opts.connectTimeout ?? 10,
    transform: camelColumns,
    onnotice: log ? (notice) => log.debug({ notice: notice.message }, "postgres notice") : () => {},
    connection: opts.applicationName ? { application_name: opts.applicationName } : {},
  });
}

/** Answers true when the server accepts a trivial query (for /readyz). */
export async function pingPostgres(sql: Sql): Promise<boolean> {
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  }
}
