import type { EnvReader } from "@veriflow/platform";

/** What a request spends: a submission (the four submit routes, gRPC SubmitVerification) or anything else. */
export type Budget = "submit" | "read";
export const BUDGETS: readonly Budget[] = ["submit", "read"];

/** Requests allowed per window, per budget. */
export type Limits = Record<Budget, number>;

export interface RateLimitConfig {
  /** Length of a counting window; windows are fixed, aligned to the epoch. */
  windowMs: number;
  /** Per API key, for keys whose tenant has no entry of its own. */
  perKey: Limits;
  /** Per client address, for requests without a valid API key. */
  perIp: Limits;
  /** Per API key of a tenant: replaces `perKey` for that tenant's keys. */
  tenants: ReadonlyMap<string, Limits>;
  /** Most bytes the counters' bucket keeps. */
  maxBytes: number;
}

/**
 * The defaults, per minute, for one box doing about 200 verifications/s: one API key may
 * take half of that (others keep room), and poll four reads for each submission; a client
 * without a key gets a tenth of a key's. A window other than a minute scales them.
 */
export const DEFAULT_LIMITS_PER_MINUTE = { perKey: { submit: 6000, read: 24_000 }, perIp: { submit: 600, read: 2400 } } as const;
const MINUTE = 60_000;
const MAX_LIMIT = 1_000_000_000;
const FORMAT = "<who>:<submit>/<read>, who being key, ip or tenant:<name> (e.g. key:6000/24000,ip:600/2400,tenant:acme:20000/80000)";

/**
 * RATE_LIMITS: comma-separated `<who>:<submit>/<read>` entries, each the requests allowed per
 * RATE_LIMIT_WINDOW_MS; `key` and `ip` replace the defaults, `tenant:<name>` gives that
 * tenant's keys their own. `off` turns rate limiting off (null).
 */
export function readRateLimitConfig(r: EnvReader): RateLimitConfig | null {
  const windowMs = r.int("RATE_LIMIT_WINDOW_MS", MINUTE, { min: 1000, max: 3_600_000 });
  const maxBytes = r.int("RATE_LIMITS_MAX_BYTES", 16 * 1024 ** 2, { min: 64 * 1024 });
  const raw = r.string("RATE_LIMITS");
  if (raw?.toLowerCase() === "off") return null;
  const scale = (l: Limits): Limits => ({ submit: Math.max(1, Math.round((l.submit * windowMs) / MINUTE)), read: Math.max(1, Math.round((l.read * windowMs) / MINUTE)) });
  const entries = parseRateLimits(raw ?? "", r.problems);
  return {
    windowMs,
    perKey: entries.get("key") ?? scale(DEFAULT_LIMITS_PER_MINUTE.perKey),
    perIp: entries.get("ip") ?? scale(DEFAULT_LIMITS_PER_MINUTE.perIp),
    tenants: new Map([...entries].filter(([who]) => who.startsWith("tenant:")).map(([who, limits]) => [who.slice("tenant:".length), limits])),
    maxBytes,
  };
}

/** The entries of RATE_LIMITS by who (`key`, `ip`, `tenant:<name>`); each problem is pushed to `problems`. */
export function parseRateLimits(text: string, problems: string[]): Map<string, Limits> {
  const entries = new Map<string, Limits>();
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    // The last colon: a tenant's name may hold colons of its own.
    const colon = entry.lastIndexOf(":");
    const who = entry.slice(0, Math.max(0, colon)).trim();
    const counts = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(entry.slice(colon + 1));
    if (colon < 0 || !(who === "key" || who === "ip" || /^tenant:\S/.test(who)) || !counts) {
      problems.push(`RATE_LIMITS entry "${entry}" must be ${FORMAT}`);
      continue;
    }
    const limits = { submit: Number(counts[1]), read: Number(counts[2]) };
    if (limits.submit < 1 || limits.read < 1 || limits.submit > MAX_LIMIT || limits.read > MAX_LIMIT) {
      problems.push(`RATE_LIMITS entry "${entry}": each count must be 1 to ${MAX_LIMIT} (RATE_LIMITS=off turns limits off)`);
      continue;
    }
    if (entries.has(who)) problems.push(`RATE_LIMITS names ${who} twice`);
    entries.set(who, limits);
  }
  return entries;
}

/** The limits of an API key of `tenant` (none yet: every key is the default's). */
export function limitsOfTenant(config: RateLimitConfig): (tenant: string | undefined) => Limits {
  return (tenant) => (tenant === undefined ? undefined : config.tenants.get(tenant)) ?? config.perKey;
}
