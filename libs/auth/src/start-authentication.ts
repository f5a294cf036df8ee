import { ConfigError, type Logger } from "@veriflow/platform";
import { isDatabaseUnavailableError, type MigratedDatabase, type Sql } from "@veriflow/pg";
import { createAuthenticator, type Authenticator } from "./authenticator.js";
import type { AuthConfig } from "./config.js";
import { anyApiKeyExists } from "./key-store.js";
import { startAuthMigrations } from "./migrations.js";

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

/**
 * A service's authentication, composed once for the gateway, status and webhooks: the key
 * store's migrations (now, or once PostgreSQL answers), the production check above (a
 * ConfigError, the migrations stopped), and the cached authenticator.
 */
export async function startAuthentication(opts: { sql: Sql; config: AuthConfig; log: Logger }): Promise<{ authenticator: Authenticator; stop(): void }> {
  const { sql, config, log } = opts;
  const db = await startAuthMigrations(sql, log);
  try {
    await checkAuthAtStart(sql, db, config, log);
  } catch (err) {
    db.stop();
    throw err;
  }
  return { authenticator: createAuthenticator({ sql, config, log, database: db }), stop: () => db.stop() };
}
