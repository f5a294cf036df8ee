import { timingSafeEqual } from "node:crypto";
import { HttpError } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import { databaseUnavailable, isDatabaseUnavailableError, type DatabaseReadiness, type Sql } from "@veriflow/pg";
import { ISSUED_KEY_PATTERN, hashApiKey } from "./api-key.js";
import type { AuthConfig } from "./config.js";
import { anyApiKeyExists, findApiKeyByHash, touchApiKey, type ApiKeyRecord } from "./key-store.js";
import { ANONYMOUS_PRINCIPAL, BOOTSTRAP_PRINCIPAL, type Principal } from "./principal.js";

export interface AuthenticatorOptions {
  sql: Sql;
  config: AuthConfig;
  log: Logger;
  /** Whether the auth migrations are applied; until then lookups count as the database being unavailable. */
  database?: DatabaseReadiness;
  /** Milliseconds since the epoch; a test's clock. */
  now?: () => number;
}

export interface Authenticator {
  /**
   * The principal of a request presenting `key` (undefined: none). Throws 401 E_UNAUTHORIZED
   * for a missing, unknown, revoked or expired key, and 503 E_DATABASE_UNAVAILABLE when a key
   * must be looked up while PostgreSQL does not answer.
   */
  authenticate(key: string | undefined): Promise<Principal>;
  /** Drops a key from this replica's cache at once (after it was revoked here). */
  forget(keyId: string): void;
}

/** Unknown keys are remembered this long at most (a key created a moment later works soon). */
const NEGATIVE_TTL_MS = 5_000;
/** A key's last use is written at most this often (and the statement itself skips recent ones). */
const TOUCH_INTERVAL_MS = 60_000;
/** Most keys cached; the oldest entry goes first (keys presented by guessers must not grow it without bound). */
const MAX_ENTRIES = 10_000;

interface Entry {
  record: ApiKeyRecord | null;
  at: number;
}

/**
 * Authentication without a query on the hot path: a stored key is looked up once, then its
 * record is reused for AUTH_CACHE_TTL_MS (so a revocation takes effect within that time on
 * every replica); bootstrap keys (API_KEYS) are compared in memory. Concurrent lookups of one
 * key share a query. While PostgreSQL does not answer, a key seen before keeps the record last
 * read (nobody can revoke it meanwhile: revoking writes to the same database), and only an
 * unseen key gets 503.
 */
export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const { sql, config, log } = opts;
  const now = opts.now ?? Date.now;
  const bootstrap = config.bootstrapKeys.map(hashApiKey);
  const cache = new Map<string, Entry>();
  const lookups = new Map<string, Promise<Entry>>();
  const touched = new Map<string, number>();
  let keysExist: { value: boolean; at: number } | undefined;

  const fresh = (e: { at: number }, ttl: number) => now() - e.at < ttl;
  const ttlOf = (e: Entry) => (e.record ? config.cacheTtlMs : Math.min(NEGATIVE_TTL_MS, config.cacheTtlMs));

  /** A database call, or what it last answered while the database is away (undefined when it never answered). */
  const readOrStale = async <T>(read: () => Promise<T>, stale: T | undefined): Promise<T> => {
    try {
      if (opts.database && !opts.database.isReady()) throw databaseUnavailable();
      return await read();
    } catch (err) {
      if (!isDatabaseUnavailableError(err) && !(err instanceof HttpError && err.code === "E_DATABASE_UNAVAILABLE")) throw err;
      if (stale === undefined) throw databaseUnavailable(err);
      log.debug({ err }, "auth: database unavailable, using the last answer");
      return stale;
    }
  };

  const lookup = (digest: Buffer): Promise<Entry> => {
    const id = digest.toString("hex");
    const cached = cache.get(id);
    if (cached && fresh(cached, ttlOf(cached))) return Promise.resolve(cached);
    let pending = lookups.get(id);
    if (!pending) {
      pending = readOrStale(async () => ({ record: await findApiKeyByHash(sql, digest), at: now() }), cached?.record ? cached : undefined)
        .then((entry) => {
          cache.delete(id); // re-inserted last: the oldest entries are evicted first
          cache.set(id, entry);
          if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
          return entry;
        })
        .finally(() => lookups.delete(id));
      lookups.set(id, pending);
    }
    return pending;
  };

  const touch = (record: ApiKeyRecord) => {
    const last = touched.get(record.id);
    if (last !== undefined && now() - last < TOUCH_INTERVAL_MS) return;
    touched.set(record.id, now());
    touchApiKey(sql, record.id).catch((err: unknown) => log.debug({ err, keyId: record.id }, "auth: last use not recorded"));
  };

  let keysExistLookup: Promise<{ value: boolean; at: number }> | undefined;
  const anonymousAllowed = async (): Promise<boolean> => {
    if (bootstrap.length > 0 || !config.openWhenNoKeys) return false;
    // Once a key exists the answer never changes back: revoked keys stay in the table.
    if (keysExist && (keysExist.value || fresh(keysExist, config.cacheTtlMs))) return !keysExist.value;
    // Concurrent requests share one query.
    keysExistLookup ??= readOrStale(async () => ({ value: await anyApiKeyExists(sql), at: now() }), keysExist).finally(() => (keysExistLookup = undefined));
    keysExist = await keysExistLookup;
    return !keysExist.value;
  };

  return {
    async authenticate(key) {
      if (!key) {
        if (await anonymousAllowed()) return ANONYMOUS_PRINCIPAL;
        throw new HttpError("E_UNAUTHORIZED", "an API key is required: send it as x-api-key: <key> or authorization: Bearer <key>");
      }
      const digest = hashApiKey(key);
      // Every bootstrap key is compared, without stopping at a match: timing tells nothing.
      let isBootstrap = false;
      for (const b of bootstrap) isBootstrap = timingSafeEqual(b, digest) || isBootstrap;
      if (isBootstrap) return BOOTSTRAP_PRINCIPAL;
      // Not a key this system issues: refused without a query.
      if (!ISSUED_KEY_PATTERN.test(key)) throw new HttpError("E_UNAUTHORIZED", "the API key is not valid");
      const { record } = await lookup(digest);
      if (!record) throw new HttpError("E_UNAUTHORIZED", "the API key is not valid");
      if (record.revokedAt) throw new HttpError("E_UNAUTHORIZED", `the API key ${record.prefix}… was revoked`);
      if (record.expiresAt && record.expiresAt.getTime() <= now()) throw new HttpError("E_UNAUTHORIZED", `the API key ${record.prefix}… expired at ${record.expiresAt.toISOString()}`);
      touch(record);
      return { tenant: record.tenant, scopes: record.scopes, keyId: record.id, allTenants: false };
    },
    forget(keyId) {
      for (const [id, entry] of cache) if (entry.record?.id === keyId) cache.delete(id);
    },
  };
}
