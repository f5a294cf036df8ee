import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { createAuthenticator, type AuthenticatorOptions } from "./authenticator.js";
import type { AuthConfig } from "./config.js";
import { issueApiKey, revokeApiKey } from "./key-store.js";
import { AUTH_MIGRATIONS_DIR } from "./migrations.js";
import { checkAuthAtStart } from "./start-authentication.js";
import { BOOTSTRAP_PRINCIPAL } from "./principal.js";

// The authenticator against a real PostgreSQL holding the api_keys table, with a clock the
// tests move: what is cached, for how long, and what happens while the database is away.
let db: TestDatabase;
let clock: number;
const TTL = 30_000;

beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir: AUTH_MIGRATIONS_DIR });
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  clock = Date.now();
  await db.sql`truncate api_keys`;
});

const config = (over: Partial<AuthConfig> = {}): AuthConfig => ({ bootstrapKeys: [], openWhenNoKeys: true, cacheTtlMs: TTL, production: false, ...over });
const authenticator = (over: Partial<AuthenticatorOptions> = {}) =>
  createAuthenticator({ sql: db.sql, config: config(), log: createSilentLogger(), now: () => clock, ...over });
const issue = (tenant = "acme", scopes: ("submit" | "read" | "admin")[] = ["read"], expiresAt: Date | null = null) =>
  issueApiKey(db.sql, { tenant, scopes, expiresAt });

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    const e = err as { status?: number; code?: string; message: string };
    return `${e.status} ${e.code}: ${e.message}`;
  }
}

describe("stored keys", () => {
  it("a key stands for its tenant and scopes; the table holds its hash and prefix, never the key", async () => {
    const { key, record } = await issue("acme", ["submit", "read"]);
    expect(key).toMatch(/^vfk_[A-Za-z0-9_-]{43}$/);
    expect(record.prefix).toBe(key.slice(0, 12));
    expect(await authenticator().authenticate(key)).toEqual({ tenant: "acme", scopes: ["submit", "read"], keyId: record.id, allTenants: false });
    const [row] = await db.sql<{ keyHash: Buffer; text: string }[]>`select key_hash, api_keys::text as text from api_keys`;
    expect(row!.keyHash).toHaveLength(32);
    expect(row!.text).not.toContain(key.slice(12));
  });

  it("reuses a lookup for AUTH_CACHE_TTL_MS: a revocation takes effect once it runs out (no query before)", async () => {
    const auth = authenticator();
    const { key, record } = await issue();
    await auth.authenticate(key);
    await revokeApiKey(db.sql, record.id);
    clock += TTL - 1;
    expect(await outcome(auth.authenticate(key))).toBe("ok");
    clock += 1;
    expect(await outcome(auth.authenticate(key))).toMatch(/^401 E_UNAUTHORIZED: the API key vfk_[\w-]+… was revoked$/);
  });

  it("forget() drops a key from the cache at once (the replica that revoked it)", async () => {
    const auth = authenticator();
    const { key, record } = await issue();
    await auth.authenticate(key);
    await revokeApiKey(db.sql, record.id);
    auth.forget(record.id);
    expect(await outcome(auth.authenticate(key))).toMatch(/^401 E_UNAUTHORIZED: .* was revoked$/);
  });

  it("refuses an expired key at its expiry, cached or not", async () => {
    const auth = authenticator();
    const { key } = await issue("acme", ["read"], new Date(clock + 60_000));
    expect(await outcome(auth.authenticate(key))).toBe("ok");
    clock += 60_000;
    expect(await outcome(auth.authenticate(key))).toMatch(/^401 E_UNAUTHORIZED: the API key vfk_[\w-]+… expired at /);
  });

  it("refuses unknown keys, well-formed or not; a key created since works within 5 s", async () => {
    const auth = authenticator();
    const { key } = await issue();
    await db.sql`truncate api_keys`;
    expect(await outcome(auth.authenticate(key))).toBe("401 E_UNAUTHORIZED: the API key is not valid");
    for (const bad of ["nope", `${key}x`, key.toUpperCase(), "vfk_short"]) expect(await outcome(auth.authenticate(bad))).toBe("401 E_UNAUTHORIZED: the API key is not valid");
    const again = await issue();
    expect(await outcome(auth.authenticate(again.key))).toBe("ok");
  });

  it("records the last use, then at most once a minute", async () => {
    const auth = authenticator();
    const { key, record } = await issue();
    await auth.authenticate(key);
    const lastUsed = async () => (await db.sql<{ lastUsedAt: Date | null }[]>`select last_used_at from api_keys where id = ${record.id}`)[0]!.lastUsedAt;
    await expect.poll(lastUsed).not.toBeNull();
    const first = await lastUsed();
    await db.sql`update api_keys set last_used_at = now() - interval '2 minutes'`;
    await auth.authenticate(key); // within a minute of this replica's last write: nothing sent
    await new Promise((r) => setTimeout(r, 100));
    expect((await lastUsed())!.getTime()).toBeLessThan(first!.getTime());
    clock += 60_000;
    await auth.authenticate(key);
    await expect.poll(async () => (await lastUsed())!.getTime()).toBeGreaterThanOrEqual(first!.getTime());
  });
});

describe("bootstrap keys and running open", () => {
  it("an API_KEYS key is tenant default with every scope and all tenants, checked without the database", async () => {
    const auth = authenticator({ config: config({ bootstrapKeys: ["boot-1", "boot-2"] }), database: { isReady: () => false } });
    expect(await auth.authenticate("boot-2")).toEqual(BOOTSTRAP_PRINCIPAL);
    expect(await outcome(auth.authenticate("boot-3"))).toBe("401 E_UNAUTHORIZED: the API key is not valid");
    expect(await outcome(auth.authenticate(undefined))).toMatch(/^401 E_UNAUTHORIZED: an API key is required: send it as x-api-key/);
  });

  it("without any key anywhere, development runs open; the first key closes it within the cache time, for good", async () => {
    const auth = authenticator();
    expect(await auth.authenticate(undefined)).toEqual(BOOTSTRAP_PRINCIPAL);
    const { record } = await issue();
    expect(await auth.authenticate(undefined)).toEqual(BOOTSTRAP_PRINCIPAL);
    clock += TTL;
    expect(await outcome(auth.authenticate(undefined))).toMatch(/^401 E_UNAUTHORIZED/);
    await revokeApiKey(db.sql, record.id); // revoking every key does not open it again
    clock += TTL;
    expect(await outcome(auth.authenticate(undefined))).toMatch(/^401 E_UNAUTHORIZED/);
  });

  it("production never runs open unless ALLOW_ANONYMOUS, and refuses to start with no way in", async () => {
    const prod = config({ production: true, openWhenNoKeys: false });
    expect(await outcome(authenticator({ config: prod }).authenticate(undefined))).toMatch(/^401 E_UNAUTHORIZED/);
    const migrated = { isReady: () => true, assertReady() {}, ready: Promise.resolve(), stop() {} };
    const log = createSilentLogger();
    await expect(checkAuthAtStart(db.sql, migrated, prod, log)).rejects.toThrow(ConfigError);
    await expect(checkAuthAtStart(db.sql, migrated, prod, log)).rejects.toThrow(/veriflow keys create/);
    await expect(checkAuthAtStart(db.sql, migrated, config({ production: true, openWhenNoKeys: true }), log)).resolves.toBeUndefined();
    await expect(checkAuthAtStart(db.sql, migrated, { ...prod, bootstrapKeys: ["k"] }, log)).resolves.toBeUndefined();
    await issue();
    await expect(checkAuthAtStart(db.sql, migrated, prod, log)).resolves.toBeUndefined();
    // PostgreSQL away at start: it starts, closed.
    await db.sql`truncate api_keys`;
    await expect(checkAuthAtStart(db.sql, { ...migrated, isReady: () => false }, prod, log)).resolves.toBeUndefined();
  });
});

describe("while the database is away", () => {
  it("a key seen before keeps working past the cache time; an unseen key answers 503", async () => {
    let ready = true;
    const auth = authenticator({ database: { isReady: () => ready } });
    const seen = await issue("acme");
    const unseen = await issue("acme");
    await auth.authenticate(seen.key);
    ready = false;
    clock += 10 * TTL;
    expect(await auth.authenticate(seen.key)).toMatchObject({ tenant: "acme" });
    const refused = await auth.authenticate(unseen.key).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 503, code: "E_DATABASE_UNAVAILABLE", retryAfterSeconds: 5 });
    ready = true;
    expect(await auth.authenticate(unseen.key)).toMatchObject({ tenant: "acme" });
  });

  it("open development stays open; without an answer ever, a request without a key gets 503", async () => {
    let ready = true;
    const auth = authenticator({ database: { isReady: () => ready } });
    await auth.authenticate(undefined);
    ready = false;
    clock += 10 * TTL;
    expect(await auth.authenticate(undefined)).toEqual(BOOTSTRAP_PRINCIPAL);
    const never = authenticator({ database: { isReady: () => false } });
    expect(await never.authenticate(undefined).catch((e: unknown) => e)).toMatchObject({ status: 503, code: "E_DATABASE_UNAVAILABLE" });
  });
});
