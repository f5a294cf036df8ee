/**
 * What a rate-limit check costs the gateway, in µs of CPU per request (user + system of this
 * process, which holds the limiter and its NATS client), and what the KV writes cost
 * nats-server. Prints figures; it is not a test.
 *
 *   npx tsx bench/rate-limit.ts [--requests N]
 *
 * Starts a nats-server (free port, temp store) and runs the gateway's limiter and its REST
 * middleware in this process against the real counters' bucket.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { Context } from "koa";
import postgres from "postgres";
import { DEFAULT_AUTH_CACHE_TTL_MS, createAuthenticator } from "@veriflow/auth";
import { connectNats, openRateLimitBucket } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer } from "@veriflow/testing";
import { identifyByKey } from "../services/gateway/src/client-identity.js";
import { registerGatewayMetrics } from "../services/gateway/src/metrics.js";
import type { Limits } from "../services/gateway/src/rate-limit-config.js";
import { createRateLimitEdges } from "../services/gateway/src/rate-limit-edges.js";
import { createRateLimiter, type RateLimiter } from "../services/gateway/src/rate-limiter.js";
import { fmt, out } from "./support/output.js";

const { values: args } = parseArgs({ options: { requests: { type: "string", default: "200000" } } });
const N = Number(args.requests);
const WINDOW_MS = 3_600_000; // no window ends during a run
const HUGE: Limits = { submit: 1e9, read: 1e9 };
const DEFAULT_KEY: Limits = { submit: 6000, read: 24_000 }; // the per-minute defaults

const log = createSilentLogger();
const server = await startNatsServer();
const nats = await connectNats({ url: server.url, name: "rate-limit-bench", log });
const kv = await openRateLimitBucket(nats.nc, { maxAgeMs: WINDOW_MS + 30_000, maxBytes: 256 * 1024 ** 2, replicas: 1, timeoutMs: 1000 });
registerGatewayMetrics();

const limiter = (perKey: Limits, perIp: Limits): RateLimiter =>
  createRateLimiter({ kv, windowMs: WINDOW_MS, limitsOfTenant: () => perKey, perIp, isConnected: () => nats.isConnected(), log });

/** CPU time (user + system, µs) nats-server has used, from /proc. */
async function serverCpuMicros(): Promise<number> {
  const stat = await readFile(`/proc/${server.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Runs `n` requests, `concurrency` at a time, and prints the CPU each one cost. */
async function measure(label: string, n: number, request: (i: number) => Promise<unknown>, concurrency = 32): Promise<void> {
  const cpu0 = process.cpuUsage();
  const server0 = await serverCpuMicros();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await request(next++);
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = (await serverCpuMicros()) - server0;
  out(
    `${label.padEnd(72)} ${fmt((cpu.user + cpu.system) / n, 2).padStart(8)} µs gateway  ${fmt(serverCpu / n, 2).padStart(8)} µs nats-server  ${fmt(n / (wallMs / 1000), 0).padStart(9)} req/s`,
  );
}

const key = (i: number) => ({ keyId: `bench-${i}`, ip: "10.0.0.1" });
try {
  out(`rate-limit bench — ${new Date().toISOString()} — node ${process.version}, ${N} requests where not said`);
  out(`${"".padEnd(72)} ${"CPU per request".padStart(17)}`);

  const warm = limiter(HUGE, HUGE);
  await measure("(warm-up)", N / 4, () => warm.take(key(0), "read"));

  const local = limiter(HUGE, HUGE);
  await measure("admitted from a slice in hand (no I/O)", N, () => local.take(key(1), "read"));

  const defaults = limiter(DEFAULT_KEY, DEFAULT_KEY);
  await measure("one key at the default 24000 reads/min: all of them (slice ≤ 1200)", DEFAULT_KEY.read, () => defaults.take(key(2), "read"));
  await measure("the same key past its limit: refused, no I/O", N, () => defaults.take(key(2), "read"));

  const fresh = limiter(DEFAULT_KEY, DEFAULT_KEY);
  await measure("a new client each request: one KV read-modify-write each", 5000, (i) => fresh.take({ ip: `10.1.${i >> 8}.${i & 255}` }, "read"));

  const small = limiter({ submit: 10_000_000, read: 20 }, HUGE);
  await measure("slices of 1 (a limit ≤ 20): one KV read-modify-write each", 5000, (i) => small.take(key(1000 + Math.floor(i / 20)), "read"));

  // The REST middleware as the gateway mounts it: the key authenticated (a bootstrap key: compared
  // in memory, as a cached stored key is; no query), take, four headers. postgres.js connects on
  // its first query, which a bootstrap key never makes.
  const authenticator = createAuthenticator({
    sql: postgres("postgres://127.0.0.1:1/never-queried"),
    config: { bootstrapKeys: ["bench-key"], openWhenNoKeys: false, cacheTtlMs: DEFAULT_AUTH_CACHE_TTL_MS, production: true },
    log: createSilentLogger(),
  });
  const edges = createRateLimitEdges({ limiter: limiter(HUGE, HUGE), identify: identifyByKey(authenticator), budgetOfMethod: () => "read" });
  const middleware = edges.rest("read");
  const headers: Record<string, string> = { "x-api-key": "bench-key" };
  const ctx = { ip: "10.0.0.1", get: (name: string) => headers[name] ?? "", set: () => {} } as unknown as Context;
  const next = () => Promise.resolve();
  await measure("REST middleware: API key identified, slice in hand, headers set", N, () => middleware(ctx, next));
} finally {
  await nats.close();
  await server.stop();
}
