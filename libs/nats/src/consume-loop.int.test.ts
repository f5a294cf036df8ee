import {
  DEAD_LETTER_STREAM,
  STREAM_NAME,
  UPLOADS_BUCKET,
  stageConsumer,
  createEvent,
  createRequestEvent,
  deadLetterSubject,
  subjectFor,
  type AnyEnvelope,
  type Envelope,
} from "@veriflow/events";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConsumeLoop, type RunningLoop } from "./consume-loop.js";
import { failedEventFor, type HandlerContext } from "@veriflow/pipeline";
import { PermanentError, TransientError } from "@veriflow/errors";
import { createSilentLogger } from "@veriflow/platform";
import { connectNats, type NatsClients } from "./nats.js";
import { publishEvents } from "./publish-events.js";
import { ensureConsumer, ensureStreams } from "./topology.js";
import { testTopology } from "./topology.fixture.js";

const topology = testTopology({ ackWaitMs: 5_000 });
const MAX_ATTEMPTS = 3;
const HASH = "0x" + "ab".repeat(32);

type Behavior = (event: Envelope<"verification.requested">, ctx: HandlerContext) => Promise<AnyEnvelope[]>;

/** Handler behavior per job id, and every call the loop made (job id, attempt, time). */
const behaviors = new Map<string, Behavior>();
const calls: Array<{ jobId: string; attempt: number; at: number }> = [];
const callsOf = (jobId: string) => calls.filter((c) => c.jobId === jobId);

let server: NatsServerHandle;
let nats: NatsClients;
let loop: RunningLoop;

function requestFor(jobId: string) {
  return createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
    upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null },
  });
}

const hashedFor = (event: Envelope<"verification.requested">, attempt: number) =>
  createEvent(
    "content.hashed",
    { jobId: event.data.jobId, request: event.data.request, contentHash: HASH, size: 1, startedAt: event.occurredAt, attempts: attempt },
    event,
  );

/** Messages stored in a stream on one subject. */
async function countOn(stream: string, subject: string): Promise<number> {
  const info = await nats.jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const lastOn = (stream: string, subject: string) => nats.jsm.streams.getMessage(stream, { last_by_subj: subject });
const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  server = await startNatsServer();
  const log = createSilentLogger();
  nats = await connectNats({ url: server.url, name: "consume-loop-test", log });
  await ensureStreams(nats.jsm, topology);
  await ensureConsumer(nats.jsm, stageConsumer("hashing"), topology);
  loop = await runConsumeLoop({
    nats,
    topology,
    consumer: stageConsumer("hashing"),
    eventType: "verification.requested",
    produces: ["content.hashed"],
    async handle(event, ctx) {
      calls.push({ jobId: event.correlationId, attempt: ctx.attempt, at: Date.now() });
      const behave = behaviors.get(event.correlationId);
      if (!behave) throw new PermanentError("E_INTERNAL", `no behavior for ${event.correlationId}`);
      return behave(event, ctx);
    },
    onGiveUp: (event, err, attempts) => [failedEventFor("hashing", event, err, attempts)],
    log,
    concurrency: 4,
    maxAttempts: MAX_ATTEMPTS,
    backoff: { baseMs: 20, maxMs: 200 },
    workingIntervalMs: 1000,
  });
});

afterAll(async () => {
  await loop?.stop();
  await nats?.close();
  await server?.stop();
});

describe("runConsumeLoop against nats-server", () => {
  it("publishes a handler's output once and acks", async () => {
    behaviors.set("ok-1", async (event, ctx) => [hashedFor(event, ctx.attempt)]);
    const request = requestFor("ok-1");
    await publishEvents(nats.js, [request]);

    const stored = await eventually(() => lastOn(STREAM_NAME, subjectFor("content.hashed", "ok-1")), "content.hashed");
    const out = stored.json<AnyEnvelope>();
    expect(out.type).toBe("content.hashed");
    expect(out.causationId).toBe(request.id);
    expect(stored.header?.get("Nats-Msg-Id")).toBe(out.id);
    await settle();
    expect(await countOn(STREAM_NAME, subjectFor("content.hashed", "ok-1"))).toBe(1);
    expect(callsOf("ok-1").map((c) => c.attempt)).toEqual([1]);
    const info = await nats.jsm.consumers.info(STREAM_NAME, stageConsumer("hashing").durable);
    expect(info.num_ack_pending).toBe(0);
  });

  it("processes an input published twice with the same Nats-Msg-Id once", async () => {
    behaviors.set("dup-1", async (event, ctx) => [hashedFor(event, ctx.attempt)]);
    const request = requestFor("dup-1");
    const [first] = await publishEvents(nats.js, [request]);
    const [second] = await publishEvents(nats.js, [request]);
    expect(first!.duplicate).toBe(false);
    expect(second!.duplicate).toBe(true);

    await eventually(() => lastOn(STREAM_NAME, subjectFor("content.hashed", "dup-1")), "content.hashed");
    await settle();
    expect(await countOn(STREAM_NAME, subjectFor("verification.requested", "dup-1"))).toBe(1);
    expect(await countOn(STREAM_NAME, subjectFor("content.hashed", "dup-1"))).toBe(1);
    expect(callsOf("dup-1")).toHaveLength(1);
  });

  it("retries a plain Error with backoff", async () => {
    behaviors.set("retry-1", async (event, ctx) => {
      if (ctx.attempt === 1) throw new Error("flaky");
      return [hashedFor(event, ctx.attempt)];
    });
    await publishEvents(nats.js, [requestFor("retry-1")]);

    await eventually(() => lastOn(STREAM_NAME, subjectFor("content.hashed", "retry-1")), "content.hashed");
    await settle();
    const seen = callsOf("retry-1");
    expect(seen.map((c) => c.attempt)).toEqual([1, 2]);
    // backoffDelay(1, { baseMs: 20 }) is at least 10 ms.
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(10);
    expect(await countOn(STREAM_NAME, subjectFor("content.hashed", "retry-1"))).toBe(1);
    expect(await countOn(STREAM_NAME, subjectFor("verification.failed", "retry-1"))).toBe(0);
  });

  it("a redelivery whose output is already stored (a crash between publish and ack) is acked without handling it again", async () => {
    behaviors.set("crash-1", async (event, ctx) => {
      const out = [hashedFor(event, ctx.attempt)];
      if (ctx.attempt === 1) {
        // A crash between publishing the outputs and acking: the output is already out.
        await publishEvents(nats.js, out);
        throw new Error("crashed after publish");
      }
      // A second run would not find the upload (the hashing stage deletes it once acked).
      throw new PermanentError("E_UPLOAD_NOT_FOUND", "no such upload");
    });
    await publishEvents(nats.js, [requestFor("crash-1")]);

    await eventually(async () => {
      const info = await nats.jsm.consumers.info(STREAM_NAME, stageConsumer("hashing").durable);
      return callsOf("crash-1").length === 1 && info.num_ack_pending === 0 && info.num_pending === 0;
    }, "the redelivery to be acked");
    await settle();
    expect(callsOf("crash-1").map((c) => c.attempt)).toEqual([1]);
    expect(await countOn(STREAM_NAME, subjectFor("content.hashed", "crash-1"))).toBe(1);
    expect(await countOn(STREAM_NAME, subjectFor("verification.failed", "crash-1"))).toBe(0);
  });

  it("gives up on a TransientError after maxAttempts with one verification.failed", async () => {
    behaviors.set("transient-1", async () => {
      throw new TransientError("E_UPLOAD_UNAVAILABLE", "store is down");
    });
    const request = requestFor("transient-1");
    await publishEvents(nats.js, [request]);

    const stored = await eventually(() => lastOn(STREAM_NAME, subjectFor("verification.failed", "transient-1")), "verification.failed");
    await settle();
    const failed = stored.json<Envelope<"verification.failed">>();
    expect(failed.type).toBe("verification.failed");
    expect(failed.causationId).toBe(request.id);
    expect(failed.data).toEqual({
      jobId: "transient-1",
      jobType: "verify",
      stage: "hashing",
      code: "E_UPLOAD_UNAVAILABLE",
      message: "store is down",
      attempts: MAX_ATTEMPTS,
    });
    expect(callsOf("transient-1").map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(await countOn(STREAM_NAME, subjectFor("verification.failed", "transient-1"))).toBe(1);
    expect(await countOn(STREAM_NAME, subjectFor("content.hashed", "transient-1"))).toBe(0);
  });

  it("gives up on a PermanentError at the first attempt", async () => {
    behaviors.set("permanent-1", async () => {
      throw new PermanentError("E_UPLOAD_NOT_FOUND", "no such upload");
    });
    await publishEvents(nats.js, [requestFor("permanent-1")]);

    const stored = await eventually(() => lastOn(STREAM_NAME, subjectFor("verification.failed", "permanent-1")), "verification.failed");
    await settle();
    expect(stored.json<Envelope<"verification.failed">>().data).toMatchObject({
      stage: "hashing",
      code: "E_UPLOAD_NOT_FOUND",
      attempts: 1,
    });
    expect(callsOf("permanent-1")).toHaveLength(1);
    expect(await countOn(STREAM_NAME, subjectFor("verification.failed", "permanent-1"))).toBe(1);
  });

  it("dead-letters undecodable bytes and keeps consuming", async () => {
    const subject = "veriflow.verification.requested.x";
    const bytes = new TextEncoder().encode("{not json");
    await nats.js.publish(subject, bytes);

    const dlq = deadLetterSubject(stageConsumer("hashing").durable);
    const stored = await eventually(() => lastOn(DEAD_LETTER_STREAM, dlq), "the dead-letter copy");
    expect(stored.header?.get("veriflow-dlq-reason")).toMatch(/not JSON/);
    expect(stored.header?.get("veriflow-dlq-subject")).toBe(subject);
    expect(stored.header?.get("veriflow-dlq-consumer")).toBe("hashing");
    expect(new TextDecoder().decode(stored.data)).toBe("{not json");

    behaviors.set("after-dlq", async (event, ctx) => [hashedFor(event, ctx.attempt)]);
    await publishEvents(nats.js, [requestFor("after-dlq")]);
    await eventually(() => lastOn(STREAM_NAME, subjectFor("content.hashed", "after-dlq")), "content.hashed after the dead letter");
    expect(await countOn(DEAD_LETTER_STREAM, dlq)).toBe(1);
  });

  it("dead-letters an event of another type on the consumer's subject", async () => {
    const request = requestFor("wrong-type");
    const hashed = hashedFor(request, 1);
    const subject = subjectFor("verification.requested", "wrong-type");
    await nats.js.publish(subject, new TextEncoder().encode(JSON.stringify(hashed)));

    const dlq = deadLetterSubject(stageConsumer("hashing").durable);
    await eventually(async () => (await countOn(DEAD_LETTER_STREAM, dlq)) === 2, "the second dead-letter copy");
    const stored = await lastOn(DEAD_LETTER_STREAM, dlq);
    expect(stored!.header?.get("veriflow-dlq-reason")).toMatch(/a content\.hashed event of job "wrong-type" on "veriflow\.verification\.requested\.wrong-type": it belongs on "veriflow\.content\.hashed\.wrong-type"/);
    expect(callsOf("wrong-type")).toHaveLength(0);
  });
});

describe("runConsumeLoop's after-ack step", () => {
  it("runs outside the message's slot, at most `concurrency` at once, and stop() waits for the ones running", async () => {
    // A consumer of the content.hashed events published from here on (the tests above published some).
    const consumer = stageConsumer("manifest");
    await ensureConsumer(nats.jsm, consumer, topology, { startSeq: (await nats.jsm.streams.info(STREAM_NAME)).state.last_seq + 1 });
    const handled: string[] = [];
    const started: string[] = [];
    const finished: string[] = [];
    const gates = new Map<string, () => void>();
    const afterAckLoop = await runConsumeLoop({
      nats,
      topology,
      consumer,
      eventType: "content.hashed",
      produces: ["manifest.checked"],
      async handle(event) {
        handled.push(event.correlationId);
        return [];
      },
      // Each step waits until the test lets it go.
      afterAck: (event) =>
        new Promise<void>((resolve) => {
          started.push(event.correlationId);
          gates.set(event.correlationId, () => {
            finished.push(event.correlationId);
            resolve();
          });
        }),
      onGiveUp: (event, err, attempts) => [failedEventFor("manifest", event, err, attempts)],
      log: createSilentLogger(),
      concurrency: 2,
      maxAttempts: MAX_ATTEMPTS,
      backoff: { baseMs: 20, maxMs: 200 },
      workingIntervalMs: 1000,
      pullExpiresMs: 1000,
    });
    const jobs = ["aa-1", "aa-2", "aa-3", "aa-4", "aa-5"];
    await publishEvents(nats.js, jobs.map((j) => hashedFor(requestFor(j), 1)));

    // Two steps hold the two places; the next two messages are handled (the slots are free)
    // and wait, in their slots, for a place; the fifth waits for a slot.
    await eventually(async () => handled.length === 4 && started.length === 2, "four handled, two steps running");
    await settle();
    expect([handled.length, started.length]).toEqual([4, 2]);

    gates.get(started[0]!)!();
    await eventually(async () => handled.length === 5 && started.length === 3, "a place freed: one more step, one more message");
    for (let i = 1; i < 4; i++) {
      await eventually(async () => started.length > i, `step ${i + 1} started`);
      gates.get(started[i]!)!();
    }
    // The last step still runs: stop() ends its pulls (within pullExpiresMs + 2 s) and waits for it.
    await eventually(async () => started.length === 5, "the last step started");
    let stopped = false;
    const stopping = afterAckLoop.stop().then(() => (stopped = true));
    await settle(3500);
    expect(stopped).toBe(false);
    gates.get(started[4]!)!();
    await stopping;
    expect(finished.sort()).toEqual(jobs);
  });
});
