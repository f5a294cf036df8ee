/**
 * What tracing costs the consume loop, the hot path every event of a job takes: a stage
 * handler that does no work of its own (it returns its output at once), over N requests
 * already stored, each with a `traceparent` header as the gateway now sends. Prints the drain
 * time and this process's CPU per message. Prints figures; it is not a test.
 *
 *   npx tsx bench/consume-overhead.ts [--jobs 5000] [--concurrency 32] [--tracing default|on]
 *
 * `default` passes no tracing option (tracing off, the shipped default; a build from before
 * tracing existed ignores the option altogether, so the same script measures it); `on`
 * records every span and exports it to an exporter that drops it (the SDK's work, without a
 * collector's). `--micro` times the calls the loop adds per message while off, alone.
 *
 * Needs `npm run build` first (@veriflow/* resolve to their dist).
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { STREAM_NAME, UPLOADS_BUCKET, createEvent, createRequestEvent, encodeEvent, newJobId, stageConsumer, subjectFor } from "@veriflow/events";
import { connectNats, ensureConsumer, ensureStreams, runConsumeLoop } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer } from "@veriflow/testing";
import type { Tracing } from "@veriflow/tracing";
import { testTopology } from "../libs/nats/src/topology.fixture.js";
import { fmt, out } from "./support/output.js";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "32" },
    tracing: { type: "string", default: "default" },
    micro: { type: "boolean", default: false },
  },
});
const JOBS = Number(args.jobs);
const log = createSilentLogger();
const traceparent = () => `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;

async function micro() {
  const { TRACING_OFF, context } = await import("@veriflow/tracing");
  const { startMessageSpan, setTraceHeaders } = await import("@veriflow/nats");
  const { logContextMixin } = await import("@veriflow/platform");
  const h = natsHeaders();
  h.set("traceparent", traceparent());
  const msg = { headers: h, info: { deliveryCount: 1 } } as never;
  const event = { id: newJobId(), type: "verification.requested", correlationId: newJobId() } as const;
  const n = 200_000;
  for (const round of [1, 2, 3]) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const traced = startMessageSpan(TRACING_OFF, "hashing", msg, event);
      context.with(traced.ctx, () => {
        setTraceHeaders(natsHeaders(), traced.ctx);
        logContextMixin();
      });
      traced.span.end();
    }
    out(`round ${round}: ${fmt(Number(process.hrtime.bigint() - t0) / n / 1000, 2)} µs per message (extract + entry span + context + inject + log mixin, tracing off)`);
  }
}

async function drain() {
  const topology = testTopology({ maxAckPending: 1000, streamMaxBytes: 256 * 1024 ** 2 });
  const server = await startNatsServer();
  const nats = await connectNats({ url: server.url, name: "bench-consume", log });
  try {
    await ensureStreams(nats.jsm, topology);
    await ensureConsumer(nats.jsm, stageConsumer("hashing"), topology);
    for (let i = 0; i < JOBS; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, JOBS - i) }, () => {
          const jobId = newJobId();
          const request = { jobType: "verify" as const, manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null };
          const upload = { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null };
          const event = createRequestEvent(jobId, { jobId, request, upload });
          const h = natsHeaders();
          h.set("traceparent", traceparent());
          return nats.js.publish(subjectFor(event.type, jobId), encodeEvent(event), { msgID: event.id, headers: h });
        }),
      );
    }
    let tracing: Tracing | undefined;
    if (args.tracing === "on") {
      const { startTracing } = await import("@veriflow/tracing");
      const config = { export: true, serviceName: null, url: "http://127.0.0.1:1", headers: {}, sampler: "always_on" as const, samplerRatio: 1, resourceAttributes: {} };
      tracing = startTracing(config, "hashing", log, { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} });
    }
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const loop = await runConsumeLoop({
      nats,
      topology,
      consumer: stageConsumer("hashing"),
      eventType: "verification.requested",
      produces: ["content.hashed"],
      handle: (event) =>
        Promise.resolve([
          createEvent("content.hashed", { jobId: event.data.jobId, request: event.data.request, contentHash: "0x" + "ab".repeat(32), size: 1, startedAt: event.occurredAt, attempts: 1 }, event),
        ]),
      onGiveUp: () => [],
      log,
      ...(tracing ? { tracing } : {}),
      concurrency: Number(args.concurrency),
      maxAttempts: 5,
      backoff: { baseMs: 100, maxMs: 1000 },
      workingIntervalMs: 10_000,
    });
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const c = await nats.jsm.consumers.info(STREAM_NAME, stageConsumer("hashing").durable);
      if (c.num_pending === 0 && c.num_ack_pending === 0) break;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    await loop.stop();
    await tracing?.stop();
    out(`tracing=${args.tracing}: ${JOBS} messages in ${fmt(seconds, 2)} s (${fmt(JOBS / seconds, 0)}/s, ±50 ms poll), cpu ${fmt((used.user + used.system) / JOBS, 1)} µs per message`);
  } finally {
    await nats.close();
    await server.stop();
  }
}

await (args.micro ? micro() : drain());
