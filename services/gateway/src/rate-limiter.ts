import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";
import type { Identity } from "./client-identity.js";
import { rateLimitUnchecked } from "./metrics.js";
import type { Budget, Limits } from "./rate-limit-config.js";

/**
 * Rate limits shared by every gateway replica: fixed windows counted in a JetStream KV
 * bucket, spent locally from reserved slices.
 *
 * - One counter per identity (API key, else client address) and budget: the KV entry
 *   `<budget>.<key|ip>.<id>` holds `<window start>:<granted>`, the requests handed out to
 *   replicas in that window. A replica reserves a slice of the budget with one
 *   read-modify-write: it reads the entry and writes it back with compare-and-set on the
 *   revision it read (a replica that lost the race reads again), then admits that many
 *   requests with no I/O at all. A counter so contended that a replica loses for a second
 *   is refused there for a second (Retry-After 1).
 * - Never more than the limit in a window: every admitted request was granted in KV first.
 *   The other way the count is loose: slices held, unspent, by other replicas are counted
 *   as used, so a client may be refused up to (replicas − 1) × the slice before its limit.
 *   A slice is at most 5% of the limit and a quarter of what is left (down to 1), so the
 *   last requests of a window are handed out one by one.
 * - Windows start at multiples of the window length since the epoch. A replica that finds
 *   a later window in KV (another replica's clock runs ahead) joins it; clocks apart by δ
 *   end a window δ early, once.
 * - Fail open: while the bucket does not answer (NATS down, a write timing out, the bucket
 *   full), requests that need a new slice are admitted unchecked, counted in
 *   veriflow_rate_limit_unchecked_total and logged as a warning at most every 30 s; the
 *   bucket is tried again a second later. A replica keeps spending the slices it holds.
 */
export interface RateLimiter {
  take(identity: Identity, budget: Budget): Promise<RateLimitDecision>;
  close(): void;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** False when admitted without a check (the counters' bucket did not answer). */
  checked: boolean;
  limit: number;
  /** Requests left in this window, as this replica last saw the counter. */
  remaining: number;
  /** Seconds until the window ends. */
  resetSeconds: number;
  windowSeconds: number;
}

export interface RateLimiterOptions {
  kv: KV;
  windowMs: number;
  /** The limits of an API key of `tenant` (`undefined`: a key without a tenant). */
  limitsOfTenant: (tenant: string | undefined) => Limits;
  /** The limits of a client address, for requests without a valid key. */
  perIp: Limits;
  /** False while the NATS connection is down: no request waits for a bucket that cannot answer. */
  isConnected: () => boolean;
  log: Logger;
  now?: () => number;
}

/** A slice is at most 1/20 of the limit and 1/4 of what the window has left, and at least 1. */
const SLICES_PER_WINDOW = 20;
const SLICE_OF_WHAT_IS_LEFT = 4;
/**
 * How long a reservation may keep losing the compare-and-set race before its requests are
 * refused for a second: only a counter hammered through several replicas at once gets there.
 */
const CONTENDED_FOR_MS = 1000;
const RETRY_BUCKET_AFTER_MS = 1000;
const WARN_EVERY_MS = 30_000;

interface Counter {
  /** When the window this counter's slice belongs to ends. */
  resetAt: number;
  /** Requests this replica may still admit from its slice. */
  left: number;
  /** Refuse until resetAt: the window's limit is all granted (or the counter too contended to reserve). */
  exhausted: boolean;
  /** What the window had granted, all replicas together, as this replica last wrote or read it. */
  granted: number;
  /** A reservation under way: requests for the same counter wait for it instead of starting another. */
  reserving?: Promise<unknown>;
}

/** A counter's KV entry: its revision, and the window and total granted it holds. */
interface Entry {
  revision: number;
  windowStart: number;
  granted: number;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const now = opts.now ?? Date.now;
  const { kv, windowMs } = opts;
  const counters = new Map<string, Counter>();
  let bucketRetryAt = 0;
  let lastWarnAt = 0;
  let uncheckedSinceWarn = 0;

  const sweep = setInterval(() => {
    const t = now();
    for (const [name, c] of counters) if (c.resetAt <= t && !c.reserving) counters.delete(name);
  }, windowMs);
  sweep.unref();

  const decide = (c: Counter, limit: number, allowed: boolean, t: number): RateLimitDecision => ({
    allowed,
    checked: true,
    limit,
    remaining: allowed ? Math.max(0, limit - c.granted) + c.left : 0,
    resetSeconds: Math.max(1, Math.ceil((c.resetAt - t) / 1000)),
    windowSeconds: Math.ceil(windowMs / 1000),
  });

  const unchecked = (limit: number, budget: Budget, err?: unknown): RateLimitDecision => {
    rateLimitUnchecked.inc({ budget });
    uncheckedSinceWarn += 1;
    const t = now();
    if (t - lastWarnAt >= WARN_EVERY_MS) {
      opts.log.warn({ err, unchecked: uncheckedSinceWarn }, "rate limits not checked: the counters' bucket does not answer; admitting");
      lastWarnAt = t;
      uncheckedSinceWarn = 0;
    }
    return { allowed: true, checked: false, limit, remaining: limit, resetSeconds: Math.ceil(windowMs / 1000), windowSeconds: Math.ceil(windowMs / 1000) };
  };

  /**
   * Reserves the next slice of the counter's window in KV, or finds the window's limit all
   * granted. Each round reads the entry and writes it back on its revision: a replica that
   * wrote last has no head start on the next round (it would, reusing the revision it wrote,
   * and starve the others while its own requests keep coming). Loses for CONTENDED_FOR_MS:
   * refuses for a second.
   */
  async function reserve(name: string, c: Counter, limit: number, t: number): Promise<void> {
    const current = t - (t % windowMs);
    while (now() - t < CONTENDED_FOR_MS) {
      const seen = await readEntry(kv, name);
      // The next window, started by a replica whose clock runs ahead, is joined; anything later is a broken clock's.
      const windowStart = seen.windowStart > current && seen.windowStart <= current + windowMs ? seen.windowStart : current;
      const granted = seen.windowStart === windowStart ? seen.granted : 0;
      const free = limit - granted;
      if (free <= 0) {
        Object.assign(c, { resetAt: windowStart + windowMs, left: 0, exhausted: true, granted });
        return;
      }
      const slice = Math.min(free, Math.max(1, Math.min(Math.ceil(limit / SLICES_PER_WINDOW), Math.floor(free / SLICE_OF_WHAT_IS_LEFT))));
      try {
        await kv.put(name, `${windowStart}:${granted + slice}`, { previousSeq: seen.revision });
        Object.assign(c, { resetAt: windowStart + windowMs, left: slice, exhausted: false, granted: granted + slice });
        return;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err; // another replica wrote first: read what it wrote
      }
    }
    Object.assign(c, { resetAt: now() + 1000, left: 0, exhausted: true, granted: limit });
  }

  return {
    async take(identity, budget) {
      const limit = (identity.keyId === undefined ? opts.perIp : opts.limitsOfTenant(identity.tenant))[budget];
      const name = counterName(identity, budget);
      for (;;) {
        let c = counters.get(name);
        if (!c) counters.set(name, (c = { resetAt: 0, left: 0, exhausted: false, granted: 0 }));
        const t = now();
        if (t < c.resetAt) {
          if (c.left > 0) {
            c.left -= 1;
            return decide(c, limit, true, t);
          }
          if (c.exhausted) return decide(c, limit, false, t);
        }
        if (c.reserving) {
          await c.reserving;
          continue;
        }
        if (t < bucketRetryAt || !opts.isConnected()) return unchecked(limit, budget);
        const reserving = reserve(name, c, limit, t).then(
          () => undefined,
          (err: unknown) => {
            bucketRetryAt = now() + RETRY_BUCKET_AFTER_MS; // the bucket did not answer: no request waits for it meanwhile
            return err ?? new Error("the rate-limit bucket failed");
          },
        );
        c.reserving = reserving;
        const failed = await reserving;
        c.reserving = undefined;
        if (failed) return unchecked(limit, budget, failed);
      }
    },
    close() {
      clearInterval(sweep);
    },
  };
}

async function readEntry(kv: KV, name: string): Promise<Entry> {
  const e = await kv.get(name);
  if (e === null) return { revision: 0, windowStart: 0, granted: 0 };
  const [windowStart, granted] = e.operation === "PUT" ? e.string().split(":").map(Number) : [];
  // Anything unreadable counts as an empty counter: its revision still lets the next write replace it.
  if (!Number.isSafeInteger(windowStart) || !Number.isSafeInteger(granted)) return { revision: e.revision, windowStart: 0, granted: 0 };
  return { revision: e.revision, windowStart: windowStart!, granted: granted! };
}

/** The counter's KV key: ids that are not plain KV tokens (IPv6's colons, a key store's own ids) are hashed. */
function counterName(identity: Identity, budget: Budget): string {
  return identity.keyId === undefined ? `${budget}.ip.${token(identity.ip)}` : `${budget}.key.${token(identity.keyId)}`;
}

const PLAIN_TOKEN = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,3}$/;
function token(id: string): string {
  return PLAIN_TOKEN.test(id) ? id : `=${createHash("sha256").update(id).digest("base64url").slice(0, 22)}`;
}
