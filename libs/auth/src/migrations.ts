import { fileURLToPath } from "node:url";
import type { Logger } from "@veriflow/platform";
import { runMigrations, startMigrations, type MigratedDatabase, type Schema, type Sql } from "@veriflow/pg";

/** The key store's migrations ship beside the build output: libs/auth/migrations. */
export const AUTH_MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));
/** Their own record of applied migrations: the table lives beside the services' in one database. */
export const AUTH_MIGRATIONS_TABLE = "auth_schema_migrations";
/** The key store's tables, as `veriflow setup` applies them before a rollout. */
export const authSchema: Schema = { owner: "auth", dir: AUTH_MIGRATIONS_DIR, table: AUTH_MIGRATIONS_TABLE };

/** For a service: migrates now if PostgreSQL answers, else once it does (the service starts meanwhile). */
export function startAuthMigrations(sql: Sql, log: Logger): Promise<MigratedDatabase> {
  return startMigrations(sql, AUTH_MIGRATIONS_DIR, { log, table: AUTH_MIGRATIONS_TABLE });
}

/** For the CLI: migrates now, or fails. */
export function runAuthMigrations(sql: Sql): Promise<string[]> {
  return runMigrations(sql, AUTH_MIGRATIONS_DIR, { table: AUTH_MIGRATIONS_TABLE });
}
