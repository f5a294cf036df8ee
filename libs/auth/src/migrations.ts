import { fileURLToPath } from "node:url";
import { ConfigError, type Logger } from "@veriflow/platform";
import { isDatabaseUnavailableError, runMigrations, startMigrations, type MigratedDatabase, type Sql } from "@veriflow/pg";
import type { AuthConfig } from "./config.js";
import { anyApiKeyExists } from "./key-store.js";

/** The key store's migrations ship beside the build output: libs/auth/migrations. */
export const AUTH_MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));
/** Their own record of applied migrations: the table lives beside the services' in one database. */
export const AUTH_MIGRATIONS_TABLE = "auth_schema_migrations";

/** For a service: migrates now if PostgreSQL answers, else once it does (the service starts meanwhile). */
export function startAuthMigrations(sql: Sql, log: Logger): Promise<MigratedDatabase> {
  return startMigrations(sql, AUTH_MIGRATIONS_DIR, { log, table: AUTH_MIGRATIONS_TABLE });
}

/** For the CLI: migrates now, or fails. */
export function runAuthMigrations(sql: Sql): Promise<string[]> {
  return runMigrations(sql, AUTH_MIGRATIONS_DIR, { table: AUTH_MIGRATIONS_TABLE });
}

/**
 * A production service refuses to start with no way in: neither API_KEYS nor a key in the
 * table (unless ALLOW_ANONYMOUS=true runs it open on purpose). Outside production it says it
 * runs open. With PostgreSQL away it starts: it answers nobody without a key meanwhile.
 */
export async function checkAuthAtStart(sql: Sql, db: MigratedDatabase, config: AuthConfig, log: Logger): Promise<void> {
  if (config.bootstrapKeys.length > 0) return;
  let exists: boolean;
  try {
    if (!db.isReady()) return;
    exists = await anyApiKeyExists(sql);
  } catch (err) {
    if (isDatabaseUnavailableError(err)) return;
    throw err;
  }
  if (exists) return;
  if (config.production && !config.openWhenNoKeys) {
    throw new ConfigError([
      "no API key exists and API_KEYS is empty (NODE_ENV=production): create one with `DATABASE_URL=… veriflow keys create --tenant <name> --scopes submit,read,admin`, or set API_KEYS; ALLOW_ANONYMOUS=true runs open on purpose",
    ]);
  }
  log.warn("no API key exists and API_KEYS is empty: requests without a key are served as tenant default until one is created");
}
