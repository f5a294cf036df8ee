import { STREAM_NAME, UPLOADS_BUCKET, createEvent, createRequestEvent, stageConsumer, type ConsumerSpec, type Envelope } from "@veriflow/events";
import { failedEventFor } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { setImmediate as yieldToLoop, setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConsumeLoop, type Handler, type RunningLoop } from "./consume-loop.js";
import { connectNats, type NatsClients } from "./nats.js";
import { publishEvents } from "./publish-events.js";
import { ensureConsumer, ensureStreams, heartbeatIntervalOf } from "./topology.js";
import { testTopology } from "./topology.fixture.js";

/**
 * Handlers that run far longer than the ack wait get exactly one delivery: the pull session's
 * heartbeats (working()) keep them in progress, whether the handler waits, hogs the event
 * loop in small slices, or stalls it once for less than ack wait − heartbeat interval. The
 * control, with heartbeats too rare, shows the same handler redelivered by the server.
 */
const ACK_WAIT_MS = 3_000;
const topology = testTopology({ ackWaitMs: ACK_WAIT_MS });
const RUN_MS = 2.5 * ACK_WAIT_MS;
/** One synchronous stall, under the margin the heartbeat interval leaves (ack wait − interval = 2250 ms). */
const STALL_MS = 1_500;
const HASH = "0x" + "cd".repeat(32);

const busyFor = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

const behaviors: Record<string, () => Promise<void>> = {
  waits: () => sleep(RUN_MS).then(() => {}),
  // CPU-bound work in 100 ms slices with only a macrotask turn between them (a hashing loop).
  async slices() {
    for (const until = Date.now() + RUN_MS; Date.now() < until; ) {
      busyFor(100);
      await yieldToLoop();
    }
  },
  async stalls() {
    busyFor(STALL_MS);
    await sleep(RUN_MS - STALL_MS);
  },
};

let server: NatsServerHandle;
let nats: NatsClients;
const loops: RunningLoop[] = [];
const calls: Array<{ jobId: string; attempt: number }> = [];

function requestFor(jobId: string) {
  return createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
    upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null },
  });
}

const handle: Handler<"verification.requested"> = async (event: Envelope<"verification.requested">, ctx) => {
  calls.push({ jobId: event.correlationId, attempt: ctx.attempt });
  await behaviors[event.correlationId.split("-")[0]!]!();
  return [createEvent("content.hashed", { jobId: event.data.jobId, request: event.data.request, contentHash: HASH, size: 1, startedAt: event.occurredAt, attempts: ctx.attempt }, event)];
};

async function startLoop(consumer: ConsumerSpec, workingIntervalMs?: number) {
  await ensureConsumer(nats.jsm, consumer, topology);
  const loop = await runConsumeLoop({
    nats,
    topology,
    consumer,
    eventType: "verification.requested",
    produces: ["content.hashed"],
    handle,
    onGiveUp: (event, err, attempts) => [failedEventFor("hashing", event, err, attempts)],
    log: createSilentLogger(),
    concurrency: 4,
    maxAttempts: 5,
    backoff: { baseMs: 20, maxMs: 200 },
    workingIntervalMs,
  });
  loops.push(loop);
  return loop;
}

/** Deliveries the server made on a consumer (redeliveries included) once everything is acked. */
async function deliveriesOnceDone(durable: string, messages: number): Promise<number> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(100)) {
    const info = await nats.jsm.consumers.info(STREAM_NAME, durable);
    if (info.ack_floor.stream_seq >= messages && info.num_ack_pending === 0) return info.delivered.consumer_seq;
  }
  throw new Error(`${durable}: messages not all acked`);
}

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "heartbeat-test", log: createSilentLogger() });
  await ensureStreams(nats.jsm, topology);
});

afterAll(async () => {
  for (const loop of loops) await loop.stop();
  await nats?.close();
  await server?.stop();
});

describe("heartbeats of held messages", () => {
  it("keep handlers longer than the ack wait at one attempt: waiting, hogging the loop in slices, or one stall", async () => {
    expect(heartbeatIntervalOf(ACK_WAIT_MS)).toBe(750);
    const durable = stageConsumer("hashing").durable;
    await startLoop(stageConsumer("hashing")); // the default interval
    const jobs = Object.keys(behaviors).map((b) => `${b}-1`);
    await publishEvents(nats.js, jobs.map(requestFor));

    expect(await deliveriesOnceDone(durable, jobs.length)).toBe(jobs.length);
    for (const jobId of jobs) expect(calls.filter((c) => c.jobId === jobId).map((c) => c.attempt), jobId).toEqual([1]);
  }, 30_000);

  it("control: with heartbeats rarer than the ack wait, the server redelivers the same handler's message", async () => {
    // A second durable on the same subjects, so the first test's messages come again to it.
    const control: ConsumerSpec = { ...stageConsumer("hashing"), durable: "heartbeat-control", description: "heartbeat control" };
    await startLoop(control, 60_000);
    expect(await deliveriesOnceDone(control.durable, Object.keys(behaviors).length)).toBeGreaterThan(Object.keys(behaviors).length);
  }, 30_000);
});
