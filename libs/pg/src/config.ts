import type { EnvReader } from "@veriflow/platform";
import { POSTGRES_DEFAULTS, type ConnectPostgresOptions } from "./postgres.js";

/** How a service reaches PostgreSQL: the variables every Postgres-backed service reads. */
export interface PostgresConfig {
  url: string;
  /** Pool size. */
  max: number;
  connectTimeoutMs: number;
  /** 0: no limit. */
  statementTimeoutMs: number;
}

/**
 * DATABASE_URL (required), DATABASE_POOL_MAX (10), DATABASE_CONNECT_TIMEOUT_MS (5000) and
 * DATABASE_STATEMENT_TIMEOUT_MS (30000; 0: no limit). Read once here for status and webhooks.
 */
export function readPostgresConfig(r: EnvReader): PostgresConfig {
  return {
    url: r.url("DATABASE_URL", undefined, ["postgres:", "postgresql:"]) ?? (r.required("DATABASE_URL"), ""),
    max: r.int("DATABASE_POOL_MAX", POSTGRES_DEFAULTS.max, { min: 1, max: 200 }),
    connectTimeoutMs: r.int("DATABASE_CONNECT_TIMEOUT_MS", POSTGRES_DEFAULTS.connectTimeoutMs, { min: 100, max: 120_000 }),
    statementTimeoutMs: r.int("DATABASE_STATEMENT_TIMEOUT_MS", POSTGRES_DEFAULTS.statementTimeoutMs, { min: 0, max: 3_600_000 }),
  };
}

/** The pool options a config stands for. */
export function poolOptionsOf(config: PostgresConfig): ConnectPostgresOptions {
  return { max: config.max, connectTimeoutMs: config.connectTimeoutMs, statementTimeoutMs: config.statementTimeoutMs };
}
