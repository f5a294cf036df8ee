/**
 * Tenants: every job belongs to one, named by the API key that submitted it. The tenant
 * travels in the envelope of each of the job's events (`Envelope.tenant`); events from
 * before tenants existed carry none and belong to DEFAULT_TENANT.
 */

/** The tenant of events without one, of bootstrap keys (API_KEYS) and of open development access. */
export const DEFAULT_TENANT = "default";

/**
 * A tenant's name: 1 to 63 lower-case letters, digits and hyphens, starting with a letter or
 * digit (safe in URLs, NATS tokens, logs and SQL without quoting).
 */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function isTenant(value: unknown): value is string {
  return typeof value === "string" && TENANT_PATTERN.test(value);
}

/** The tenant an event belongs to. */
export function tenantOf(event: { tenant?: string | undefined }): string {
  return event.tenant ?? DEFAULT_TENANT;
}

/**
 * The tenant of a message's raw bytes, for messages that may not decode as events (dead
 * letters): an envelope's `tenant`, DEFAULT_TENANT for an envelope without one, and null for
 * bytes that are no envelope at all (or name no valid tenant), which no tenant owns.
 */
export function tenantOfBytes(bytes: Uint8Array): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return null;
  const { type, correlationId, tenant } = parsed as Record<string, unknown>;
  if (typeof type !== "string" || typeof correlationId !== "string") return null;
  if (tenant === undefined) return DEFAULT_TENANT;
  return isTenant(tenant) ? tenant : null;
}
