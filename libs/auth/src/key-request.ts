import { HttpError } from "@veriflow/errors";
import { TENANT_PATTERN } from "@veriflow/events";
import { parseScopes, type Scope } from "./scopes.js";

/** What a new key is asked for, checked: the CLI (`veriflow keys create`) and POST /api/keys share these rules. */
export interface KeyRequest {
  tenant: string;
  scopes: Scope[];
  /** Null: the key never expires. */
  expiresAt: Date | null;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** The longest lifetime a key may be given (ten years): a typo like 30000d is refused, not honoured. */
const MAX_LIFETIME_MS = 3650 * UNIT_MS.d;

/** A value as an error message quotes it: JSON, strings cut short. */
const shown = (raw: unknown) => (typeof raw === "string" ? JSON.stringify(raw.slice(0, 64)) : String(JSON.stringify(raw ?? null)).slice(0, 64));

export function parseTenant(raw: unknown): string {
  if (typeof raw !== "string" || !TENANT_PATTERN.test(raw)) {
    throw new HttpError("E_INVALID_TENANT", `a tenant is 1 to 63 lower-case letters, digits and hyphens, starting with a letter or digit; got ${shown(raw)}`);
  }
  return raw;
}

/**
 * When a key expires: a lifetime from `now` (`90m`, `12h`, `30d`, `3600s`) or an ISO-8601
 * date-time with a zone (`2026-01-31T00:00:00Z`), in the future and within ten years; null,
 * undefined or "" for never.
 */
export function parseExpiry(raw: unknown, now: Date): Date | null {
  if (raw === undefined || raw === null || raw === "") return null;
  const text = typeof raw === "string" ? raw.trim() : "";
  const lifetime = /^(\d{1,7})([smhd])$/.exec(text);
  let at: Date;
  if (lifetime) at = new Date(now.getTime() + Number(lifetime[1]) * UNIT_MS[lifetime[2] as keyof typeof UNIT_MS]);
  else if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(text)) at = new Date(text);
  else at = new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) {
    throw new HttpError("E_INVALID_EXPIRY", `expiry must be a lifetime like 30d, 12h, 90m or 3600s, or an ISO-8601 date-time with a zone; got ${shown(raw)}`);
  }
  if (at.getTime() <= now.getTime()) throw new HttpError("E_INVALID_EXPIRY", "expiry must be in the future");
  if (at.getTime() - now.getTime() > MAX_LIFETIME_MS) throw new HttpError("E_INVALID_EXPIRY", "a key may live ten years at the most");
  return at;
}

export function parseKeyRequest(raw: { tenant: unknown; scopes: unknown; expires?: unknown }, now: Date = new Date()): KeyRequest {
  return { tenant: parseTenant(raw.tenant), scopes: parseScopes(raw.scopes), expiresAt: parseExpiry(raw.expires, now) };
}
