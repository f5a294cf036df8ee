import type { KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RATE_LIMITS_BUCKET } from "@veriflow/events";
import { connectNats, openRateLimitBucket, type NatsClients } from "@veriflow/nats";
import { createSilentLogger, metricsRegistry } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import type { Identity } from "./client-identity.js";
import { registerGatewayMetrics } from "./metrics.js";
import type { Limits } from "./rate-limit-config.js";
import { createRateLimiter, type RateLimitDecision, type RateLimiter, type RateLimiterOptions } from "./rate-limiter.js";

// The limiter against a real nats-server 2.9 KV bucket. Each "replica" is a limiter with its
// own NATS connection and its own bucket handle, as each gateway process has.
let server: NatsServerHandle;
const clients: NatsClients[] = [];
const limiters: RateLimiter[] = [];
const log = createSilentLogger();
const WINDOW_MS = 60_000;
const DEFAULT_KEY: Limits = { submit: 10, read: 300 };
const TENANTS: Record<string, Limits> = { acme: { submit: 50, read: 1000 } };
const PER_IP: Limits = { submit: 3, read: 20 };
let run = 0;

beforeAll(async () => {
  server = await startNatsServer();
  registerGatewayMetrics();
});
afterAll(async () => {
  for (const l of limiters) l.close();
  await Promise.allSettled(clients.map((c) => c.close()));
  await server?.stop();
});

/** A replica: its own connection and bucket handle, and its own clock if given one. */
async function replica(opts: Partial<RateLimiterOptions> = {}): Promise<RateLimiter> {
  const nats = await connectNats({ url: server.url, name: `rate-limiter-test-${clients.length}`, log });
  clients.push(nats);
  const kv = await openRateLimitBucket(nats.nc, { maxAgeMs: WINDOW_MS + 30_000, maxBytes: 1024 * 1024, replicas: 1, timeoutMs: 1000 });
  const limiter = createRateLimiter({
    kv,
    windowMs: WINDOW_MS,
    limitsOfTenant: (tenant) => (tenant === undefined ? undefined : TENANTS[tenant]) ?? DEFAULT_KEY,
    perIp: PER_IP,
    isConnected: () => nats.isConnected(),
    log,
    ...opts,
  });
  limiters.push(limiter);
  return limiter;
}

/** A key no earlier test counted against. */
const freshKey = (tenant?: string): Identity => ({ keyId: `key-${++run}-${Date.now()}`, ip: "10.0.0.1", ...(tenant ? { tenant } : {}) });
const allowed = (ds: RateLimitDecision[]) => ds.filter((d) => d.allowed).length;

/** Waits until `ms` before the next window boundary at most have gone, so a burst stays within one window. */
async function awayFromWindowEnd(ms: number): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < ms) await new Promise((r) => setTimeout(r, left + 50));
}

describe("the rate limiter over NATS KV", () => {
  it("never admits more than the limit across three replicas hammering one key, and refuses at most the documented slack early", async () => {
    const replicas = [await replica(), await replica(), await replica()];
    await awayFromWindowEnd(15_000);
    const who = freshKey();
    const limit = DEFAULT_KEY.read; // 300: a slice is at most 5% of it, 15
    const decisions = await Promise.all(Array.from({ length: 900 }, (_, i) => replicas[i % 3]!.take(who, "read")));
    expect(decisions.every((d) => d.checked)).toBe(true);
    const admitted = allowed(decisions);
    expect(admitted).toBeLessThanOrEqual(limit);
    // Slices two other replicas hold unspent: (replicas − 1) × (5% of the limit).
    expect(admitted).toBeGreaterThanOrEqual(limit - 2 * Math.ceil(limit / 20));
    // Each one's own later requests are refused too, with nothing left and the window's end as the retry hint.
    const refused = decisions.filter((d) => !d.allowed);
    expect(refused.length).toBe(900 - admitted);
    for (const d of refused) {
      expect(d).toMatchObject({ remaining: 0, limit, windowSeconds: 60 });
      expect(d.resetSeconds).toBeGreaterThanOrEqual(1);
      expect(d.resetSeconds).toBeLessThanOrEqual(60);
    }
  });

  it("counts a slice an idle replica holds as used: the others stop that much short of the limit, no more", async () => {
    const [a, b, idle] = [await replica(), await replica(), await replica()];
    await awayFromWindowEnd(15_000);
    const who = freshKey();
    expect(await idle.take(who, "read")).toMatchObject({ allowed: true, remaining: DEFAULT_KEY.read - 1 }); // reserved 15, spent 1
    const decisions = await Promise.all(Array.from({ length: 600 }, (_, i) => (i % 2 ? a : b).take(who, "read")));
    expect(allowed(decisions) + 1).toBe(DEFAULT_KEY.read - 14);
  });

  it("hands out the last requests of a small limit one by one, so two replicas admit it exactly", async () => {
    const [a, b] = [await replica(), await replica()];
    await awayFromWindowEnd(10_000);
    const who = freshKey();
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take(who, "submit")));
    expect(allowed(decisions)).toBe(DEFAULT_KEY.submit);
    // Remaining counts down on the successes; the submit budget is its own, the read budget untouched.
    const remaining = decisions.filter((d) => d.allowed).map((d) => d.remaining);
    expect(Math.min(...remaining)).toBe(0);
    expect(Math.max(...remaining)).toBeLessThan(DEFAULT_KEY.submit);
    expect(await a.take(who, "read")).toMatchObject({ allowed: true, limit: DEFAULT_KEY.read });
  });

  it("applies a tenant's own limits to its keys, and the address limits to a request without a key", async () => {
    const r = await replica();
    await awayFromWindowEnd(10_000);
    const acme = freshKey("acme");
    const decisions = await Promise.all(Array.from({ length: 60 }, () => r.take(acme, "submit")));
    expect(allowed(decisions)).toBe(TENANTS.acme!.submit);
    expect(decisions[0]).toMatchObject({ limit: 50 });
    // A tenant without an entry gets the key defaults.
    const other = freshKey("globex");
    expect(allowed(await Promise.all(Array.from({ length: 20 }, () => r.take(other, "submit"))))).toBe(DEFAULT_KEY.submit);
    const anonymous: Identity = { ip: `192.0.2.${run++ % 250}` };
    expect(allowed(await Promise.all(Array.from({ length: 10 }, () => r.take(anonymous, "submit"))))).toBe(PER_IP.submit);
    // Another address, or the same address with a key, is another counter.
    expect((await r.take({ ip: "2001:db8:1:2::/64" }, "submit")).allowed).toBe(true);
    expect((await r.take({ ...freshKey(), ip: anonymous.ip }, "submit")).allowed).toBe(true);
  });

  it("starts a new window at the boundary, and joins a window a replica with a clock ahead started, but not a broken clock's", async () => {
    let t = Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS + 10 * WINDOW_MS; // a window no other test reaches
    const behind = await replica({ now: () => t - 2000 });
    const ahead = await replica({ now: () => t });
    const who = freshKey();
    t += WINDOW_MS + 1000; // `ahead` is in the next window, `behind` still 1 s before its end
    for (let i = 0; i < DEFAULT_KEY.submit; i++) expect((await ahead.take(who, "submit")).allowed).toBe(true);
    expect(await ahead.take(who, "submit")).toMatchObject({ allowed: false, resetSeconds: 59 });
    // `behind` finds the next window in KV, all of it granted: it joins it instead of counting its own.
    expect(await behind.take(who, "submit")).toMatchObject({ allowed: false, resetSeconds: 61 });
    t += WINDOW_MS; // both in a new window
    expect(await ahead.take(who, "submit")).toMatchObject({ allowed: true, remaining: DEFAULT_KEY.submit - 1 });

    // A clock hours ahead writes a window nobody else should wait for.
    const broken = await replica({ now: () => t + 3_600_000 });
    const victim = freshKey();
    for (let i = 0; i < DEFAULT_KEY.submit; i++) await broken.take(victim, "submit");
    expect(await ahead.take(victim, "submit")).toMatchObject({ allowed: true, resetSeconds: 59, remaining: DEFAULT_KEY.submit - 1 });
  });

  it("keeps counters small: one entry per counter, holding the window and what was granted", async () => {
    const r = await replica();
    const who = freshKey();
    await r.take(who, "submit");
    const nats = clients[clients.length - 1]!;
    const kv: KV = await openRateLimitBucket(nats.nc, { maxAgeMs: WINDOW_MS + 30_000, maxBytes: 1024 * 1024, replicas: 1, timeoutMs: 1000 });
    const entry = await kv.get(`submit.key.${who.keyId}`);
    expect(entry?.string()).toMatch(/^\d+:1$/);
    const { config } = await nats.jsm.streams.info(`KV_${RATE_LIMITS_BUCKET}`);
    expect(config).toMatchObject({ max_msgs_per_subject: 1, max_age: (WINDOW_MS + 30_000) * 1e6, max_bytes: 1024 * 1024 });
  });

  it("fails open while NATS is down: admits unchecked, counts it, and checks again once NATS is back", async () => {
    const r = await replica();
    await awayFromWindowEnd(20_000);
    const holding = freshKey();
    expect((await r.take(holding, "read")).checked).toBe(true); // holds a slice of 15
    const before = await uncheckedCount();
    await server.stop({ keepStore: true });
    await new Promise((res) => setTimeout(res, 300)); // the client sees the disconnect
    // A slice in hand is still spent, checked; a counter that needs KV is not checked, and no request waits.
    expect(await r.take(holding, "read")).toMatchObject({ allowed: true, checked: true });
    const started = Date.now();
    const unchecked = await Promise.all(Array.from({ length: 30 }, () => r.take(freshKey(), "submit")));
    expect(Date.now() - started).toBeLessThan(500);
    expect(unchecked.every((d) => d.allowed && !d.checked)).toBe(true);
    expect((await uncheckedCount()) - before).toBe(30);

    await server.restart({ downMs: 0 });
    const back = freshKey();
    const decisions = await eventually(async () => {
      const d = await r.take(back, "submit");
      return d.checked ? d : undefined;
    });
    expect(decisions).toMatchObject({ allowed: true, checked: true, remaining: DEFAULT_KEY.submit - 1 });
  });
});

async function uncheckedCount(): Promise<number> {
  const text = await metricsRegistry.getSingleMetricAsString("veriflow_rate_limit_unchecked_total");
  return [...text.matchAll(/^veriflow_rate_limit_unchecked_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

async function eventually<T>(attempt: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await attempt();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}
