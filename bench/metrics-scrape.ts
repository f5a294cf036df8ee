/**
 * What the metrics cost: the readings taken on scrape (the queue from JetStream, the webhook
 * backlog from PostgreSQL) and a whole /metrics rendering, against the backlog they report.
 * Prints figures; it is not a test.
 *
 *   npx tsx bench/metrics-scrape.ts [--deliveries N] [--messages M] [--samples S]
 *
 * Starts a nats-server (temp store) and a PostgreSQL database with the webhooks migrations,
 * makes every pipeline consumer, publishes M events none of them has taken (a backlog), and
 * plans N pending webhook deliveries (a quarter of them retrying).
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Histogram } from "prom-client";
import { createRequestEvent, observerConsumer, pipeline, stageConsumer, UPLOADS_BUCKET } from "@veriflow/events";
import { connectNats, ensureConsumer, ensureStreams, publishEvents, readQueue, registerQueueMetrics } from "@veriflow/nats";
import { createSilentLogger, metricsRegistry } from "@veriflow/platform";
import { createTestDatabase, startNatsServer } from "@veriflow/testing";
import { testTopology } from "../libs/nats/src/topology.fixture.js";
import { MIGRATIONS_DIR } from "../services/webhooks/src/service.js";
import { readDeliveryBacklog } from "../services/webhooks/src/store.js";
import { out } from "./support/output.js";

const { values: args } = parseArgs({ options: { deliveries: { type: "string", default: "100000" }, messages: { type: "string", default: "10000" }, samples: { type: "string", default: "200" } } });
const DELIVERIES = Number(args.deliveries);
const MESSAGES = Number(args.messages);
const SAMPLES = Number(args.samples);

/** p50 / p99 / max of `fn` over SAMPLES runs, in ms. */
async function time(label: string, fn: () => Promise<unknown>): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(2);
  out(`${label.padEnd(58)} p50 ${at(0.5)} ms  p99 ${at(0.99)} ms  max ${ms.at(-1)!.toFixed(2)} ms`);
}

async function main() {
  const log = createSilentLogger();
  const server = await startNatsServer();
  const db = await createTestDatabase({ migrationsDir: MIGRATIONS_DIR });
  const nats = await connectNats({ url: server.url, name: "bench", log });
  try {
    const topology = testTopology({ streamMaxBytes: 256 * 1024 ** 2 });
    await ensureStreams(nats.jsm, topology);
    for (const s of pipeline.stages) await ensureConsumer(nats.jsm, stageConsumer(s.service), topology);
    for (const o of pipeline.observers) await ensureConsumer(nats.jsm, observerConsumer(o.service), topology);
    for (let i = 0; i < MESSAGES; i += 500) {
      const events = Array.from({ length: Math.min(500, MESSAGES - i) }, () => {
        const jobId = randomUUID();
        const request = { jobType: "verify" as const, manifestUri: "ipfs://x", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null };
        return createRequestEvent(jobId, { jobId, request, upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } });
      });
      await publishEvents(nats.js, events);
    }
    await db.sql`
      insert into webhook_deliveries (id, event_id, event_type, job_id, tenant, target, url, body, attempt_count, next_attempt_at, expires_at)
      select gen_random_uuid(), 'e' || g, 'verification.completed', 'j' || g, 'default', 'job', 'http://127.0.0.1/', '{}',
        case when g % 4 = 0 then 2 else 0 end, now() + (g % 60) * interval '1 second', now() + interval '1 day'
      from generate_series(1, ${DELIVERIES}::int) g`;
    await db.sql`vacuum analyze webhook_deliveries`;
    out(`veriflow metrics bench — ${new Date().toISOString()} — ${MESSAGES} events pending per consumer, ${DELIVERIES} pending webhook deliveries`);

    const queue = await readQueue(nats.jsm);
    out(`hashing pending ${queue.consumers[0]?.info?.num_pending}, dead letters ${queue.deadLetters.total}`);
    await time("queue reading (5 CONSUMER.INFO + 1 STREAM.INFO)", () => readQueue(nats.jsm));
    await time(`webhook backlog query (${DELIVERIES} pending)`, () => readDeliveryBacklog(db.sql));
    const plan = await db.sql.unsafe("explain select count(*) from webhook_deliveries where status = 'pending' and attempt_count = 0");
    out(`  plan: ${plan.map((r) => Object.values(r)[0]).join(" / ").replace(/\s+/g, " ").slice(0, 200)}`);

    registerQueueMetrics(nats.jsm, log, { ttlMs: 0 });
    await time("/metrics rendering, queue read every time (ttl 0)", () => metricsRegistry.metrics());
    registerQueueMetrics(nats.jsm, log);
    await time("/metrics rendering, queue reading cached (ttl 5 s)", () => metricsRegistry.metrics());

    const h = new Histogram({ name: "bench_seconds", help: "bench", labelNames: ["consumer", "outcome"], buckets: [0.005, 0.01, 0.1, 1, 10, 600], registers: [] });
    const n = 1_000_000;
    const t = performance.now();
    for (let i = 0; i < n; i++) h.observe({ consumer: "hashing", outcome: "ok" }, i / n);
    out(`histogram observe with two labels: ${(((performance.now() - t) * 1e6) / n).toFixed(0)} ns each`);
  } finally {
    await nats.close();
    await db.drop();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
