import { headers as natsHeaders } from "@nats-io/transport-node";
import { DEAD_LETTER_STREAM, STREAM_NAME, encodeEvent, stageConsumer, subjectFor } from "@veriflow/events";
import { failedEventFor } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { startTracing, type Tracing } from "@veriflow/tracing";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConsumeLoop, type RunningLoop } from "./consume-loop.js";
import { connectNats, type NatsClients } from "./nats.js";
import { hashedFor, requestFor } from "./pipeline-events.fixture.js";
import { ensureConsumer, ensureStreams } from "./topology.js";
import { testTopology } from "./topology.fixture.js";

// The consume loop on a real nats-server with tracing on: the trace a message's headers carry
// goes on in its outputs' headers through the handler's span; a malformed one is ignored.
const topology = testTopology({ ackWaitMs: 5_000 });
const log = createSilentLogger();
const exported: ReadableSpan[] = [];
const exporter: SpanExporter = {
  export: (spans, done) => {
    exported.push(...spans);
    done({ code: 0 });
  },
  shutdown: async () => {},
};

let server: NatsServerHandle;
let nats: NatsClients;
let loop: RunningLoop;
let tracing: Tracing;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "trace-headers-test", log });
  await ensureStreams(nats.jsm, topology);
  await ensureConsumer(nats.jsm, stageConsumer("hashing"), topology);
  const config = { export: true, serviceName: null, url: "http://127.0.0.1:1", headers: {}, sampler: "parentbased_always_on" as const, samplerRatio: 1, resourceAttributes: {} };
  tracing = startTracing(config, "hashing", log, exporter);
  loop = await runConsumeLoop({
    nats,
    topology,
    consumer: stageConsumer("hashing"),
    eventType: "verification.requested",
    produces: ["content.hashed"],
    handle: async (event) => [hashedFor(event)],
    onGiveUp: (event, err, attempts) => [failedEventFor("hashing", event, err, attempts)],
    log,
    tracing,
    concurrency: 4,
    maxAttempts: 3,
    backoff: { baseMs: 20, maxMs: 200 },
    workingIntervalMs: 1000,
  });
});

afterAll(async () => {
  await loop?.stop();
  await tracing?.stop();
  await nats?.close();
  await server?.stop();
});

/** Publishes a job's request with these raw headers; resolves to its output's traceparent once handled. */
async function handle(jobId: string, raw: [string, string][]): Promise<string> {
  const event = requestFor(jobId);
  const h = natsHeaders();
  for (const [name, value] of raw) h.append(name, value);
  await nats.js.publish(subjectFor(event.type, jobId), encodeEvent(event), { msgID: event.id, headers: h });
  const subject = subjectFor("content.hashed", jobId);
  for (let i = 0; i < 400; i++) {
    const m = await nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subject }).catch(() => null);
    if (m) return m.header?.get("traceparent") ?? "";
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${jobId} not handled`);
}

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

describe("trace context through the consume loop", () => {
  it("continues the incoming trace: the output's parent is the handler's span, a child of the incoming one", async () => {
    const out = await handle("traced-1", [["traceparent", `00-${TRACE}-00f067aa0ba902b7-01`], ["tracestate", "v=1"]]);
    expect(out).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    await tracing.stop(); // flushes what the loop recorded so far
    const span = exported.find((s) => s.attributes["veriflow.job.id"] === "traced-1")!;
    expect(span.name).toBe(`${stageConsumer("hashing").durable} verification.requested`);
    expect(span.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(out.split("-")[2]).toBe(span.spanContext().spanId);
  });

  it.each([
    ["garbage", [["traceparent", "garbage"]]],
    ["all zeros", [["traceparent", "00-00000000000000000000000000000000-0000000000000000-01"]]],
    ["repeated", [["traceparent", `00-${TRACE}-00f067aa0ba902b7-01`], ["traceparent", "x"]]],
    ["a huge tracestate", [["traceparent", "nope"], ["tracestate", "k=" + "v".repeat(50_000)]]],
  ] as [string, [string, string][]][])("ignores a malformed traceparent (%s): handled, not dead-lettered, in a trace of its own", async (name, raw) => {
    const jobId = `malformed-${name.replace(/\W/g, "")}`;
    const out = await handle(jobId, raw);
    expect(out).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const dead = await nats.jsm.streams.info(DEAD_LETTER_STREAM).then((i) => i.state.messages).catch(() => 0);
    expect(dead).toBe(0);
  });
});
