import { randomUUID } from "node:crypto";
import type { Sql } from "@veriflow/pg";
import { newApiKey } from "./api-key.js";
import type { KeyRequest } from "./key-request.js";
import type { Scope } from "./scopes.js";

/** A key as stored: everything but the key itself (only its hash is kept, and never read back). */
export interface ApiKeyRecord {
  id: string;
  tenant: string;
  scopes: Scope[];
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const COLUMNS = "id, tenant, scopes, prefix, created_at, expires_at, revoked_at, last_used_at";

/** A new key for `request`: stored hashed; the answer holds the key itself, which is never shown again. */
export async function issueApiKey(sql: Sql, request: KeyRequest): Promise<{ record: ApiKeyRecord; key: string }> {
  const { key, prefix, hash } = newApiKey();
  // Scopes go as one string split in SQL: sql.array needs the pool's array types, which a pool's
  // very first query (the CLI's, say) does not have yet. Scopes never hold a comma.
  const [record] = await sql<ApiKeyRecord[]>`
    insert into api_keys (id, tenant, scopes, key_hash, prefix, expires_at)
    values (${randomUUID()}, ${request.tenant}, string_to_array(${request.scopes.join(",")}, ','), ${hash}, ${prefix}, ${request.expiresAt})
    returning ${sql.unsafe(COLUMNS)}`;
  return { record: record!, key };
}

/** The key whose SHA-256 is `hash`, revoked and expired ones included; null when none is. */
export async function findApiKeyByHash(sql: Sql, hash: Buffer): Promise<ApiKeyRecord | null> {
  const [row] = await sql<ApiKeyRecord[]>`select ${sql.unsafe(COLUMNS)} from api_keys where key_hash = ${hash}`;
  return row ?? null;
}

/** Keys newest first: one tenant's, or every tenant's. */
export async function listApiKeys(sql: Sql, opts: { tenant?: string } = {}): Promise<ApiKeyRecord[]> {
  const where = opts.tenant === undefined ? sql`` : sql`where tenant = ${opts.tenant}`;
  return sql<ApiKeyRecord[]>`select ${sql.unsafe(COLUMNS)} from api_keys ${where} order by created_at desc, id desc`;
}

/**
 * Revokes a key (of `tenant` only, when given); revoking it again changes nothing (its first
 * revocation time stays). Null when there is no such key (or it is another tenant's).
 */
export async function revokeApiKey(sql: Sql, id: string, opts: { tenant?: string } = {}): Promise<ApiKeyRecord | null> {
  const ofTenant = opts.tenant === undefined ? sql`` : sql`and tenant = ${opts.tenant}`;
  const [row] = await sql<ApiKeyRecord[]>`
    update api_keys set revoked_at = coalesce(revoked_at, now())
    where id = ${id} ${ofTenant}
    returning ${sql.unsafe(COLUMNS)}`;
  return row ?? null;
}

/** Records that a key was used now, unless that was recorded less than a minute ago (by any replica). */
export async function touchApiKey(sql: Sql, id: string): Promise<void> {
  await sql`
    update api_keys set last_used_at = now()
    where id = ${id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`;
}

/** Whether any key was ever created (revoked ones count: a system that had keys never runs open again). */
export async function anyApiKeyExists(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ exists: boolean }[]>`select exists (select 1 from api_keys) as exists`;
  return row?.exists ?? false;
}

/** A key as the admin API and `veriflow keys list --json` show it: never the key, its prefix only. */
export function toApiKeyView(k: ApiKeyRecord) {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    id: k.id,
    tenant: k.tenant,
    scopes: k.scopes,
    prefix: k.prefix,
    createdAt: k.createdAt.toISOString(),
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
    lastUsedAt: iso(k.lastUsedAt),
  };
}
