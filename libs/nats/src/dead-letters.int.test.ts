import { headers as natsHeaders } from "@nats-io/transport-node";
import { DEAD_LETTER_STREAM, STREAM_NAME, UPLOADS_BUCKET, createRequestEvent, deadLetterSubject, encodeEvent, newJobId, observerConsumer, stageConsumer, subjectFor, type AnyEnvelope } from "@veriflow/events";
import { failedEventFor } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { eventually, startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runBatchConsumeLoop } from "./batch-consume-loop.js";
import { runConsumeLoop, type RunningLoop } from "./consume-loop.js";
import { NotReplayableError, countDeadLetters, getDeadLetter, listDeadLetters, replayDeadLetter } from "./dead-letters.js";
import { connectNats, type NatsClients } from "./nats.js";
import { ensureConsumer, ensureStreams } from "./topology.js";
import { testTopology } from "./topology.fixture.js";

// Two real consume loops over one nats-server: a stage (hashing) and an observer (status-projection).
const topology = testTopology({ ackWaitMs: 5_000 });
const STAGE = stageConsumer("hashing");
const OBSERVER = observerConsumer("status");

let server: NatsServerHandle;
let nats: NatsClients;
const loops: RunningLoop[] = [];
/** Event ids each loop's handler saw. */
const handledBy = { stage: [] as string[], observer: [] as string[] };

beforeAll(async () => {
  server = await startNatsServer();
  const log = createSilentLogger();
  nats = await connectNats({ url: server.url, name: "dead-letters-test", log });
  await ensureStreams(nats.jsm, topology);
  await ensureConsumer(nats.jsm, STAGE, topology);
  await ensureConsumer(nats.jsm, OBSERVER, topology);
  loops.push(
    await runConsumeLoop({
      nats,
      topology,
      consumer: STAGE,
      eventType: "verification.requested",
      produces: ["content.hashed"],
      async handle(event) {
        handledBy.stage.push(event.id);
        return [];
      },
      onGiveUp: (event, err, attempts) => [failedEventFor("hashing", event, err, attempts)],
      log,
      concurrency: 2,
      maxAttempts: 2,
      backoff: { baseMs: 20, maxMs: 100 },
      workingIntervalMs: 1000,
    }),
    await runBatchConsumeLoop({
      nats,
      topology,
      consumer: OBSERVER,
      isUnavailable: () => false,
      maxAttempts: 2,
      async handleBatch(events) {
        handledBy.observer.push(...events.map((e) => e.id));
      },
      log,
      maxBatch: 10,
      backoff: { baseMs: 20, maxMs: 100 },
    }),
  );
});
afterAll(async () => {
  await Promise.all(loops.map((l) => l.stop()));
  await nats?.close();
  await server?.stop();
});
beforeEach(async () => {
  await nats.jsm.streams.purge(DEAD_LETTER_STREAM);
});

const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));
const all = async () => (await listDeadLetters(nats.jsm, { limit: 100 })).deadLetters;

/** Bytes no loop can decode, published on a request's subject with a CloudEvents header. */
async function publishGarbage(jobId = newJobId()) {
  const h = natsHeaders();
  h.set("ce-type", "verification.requested");
  const ack = await nats.js.publish(subjectFor("verification.requested", jobId), new TextEncoder().encode("{not json"), { headers: h });
  return { jobId, seq: ack.seq };
}

function requestFor(jobId = newJobId()): AnyEnvelope {
  return createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
    upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null },
  });
}

describe("dead letters", () => {
  it("lists what each consumer set aside, oldest first, by consumer and in pages; shows one with its reason and headers", async () => {
    const garbage = await publishGarbage();
    const letters = await eventually(async () => {
      const l = await all();
      return l.length === 2 && l;
    }, "two dead letters");
    expect(letters.map((d) => d.consumer).sort()).toEqual([OBSERVER.durable, STAGE.durable].sort());
    for (const d of letters) {
      expect(d).toMatchObject({ subject: subjectFor("verification.requested", garbage.jobId), streamSeq: garbage.seq, size: 9 });
      expect(d.reason).toMatch(/not JSON/);
      expect(d.headers).toMatchObject({ "ce-type": "verification.requested" });
      expect(new TextDecoder().decode(d.data)).toBe("{not json");
    }
    expect(letters[0]!.seq).toBeLessThan(letters[1]!.seq);

    const mine = await listDeadLetters(nats.jsm, { consumer: STAGE.durable, limit: 10 });
    expect(mine.deadLetters.map((d) => d.consumer)).toEqual([STAGE.durable]);
    const first = await listDeadLetters(nats.jsm, { limit: 1 });
    expect(first.deadLetters.map((d) => d.seq)).toEqual([letters[0]!.seq]);
    expect(first.next).toBe(letters[0]!.seq);
    const second = await listDeadLetters(nats.jsm, { after: first.next!, limit: 1 });
    expect(second).toEqual({ deadLetters: [letters[1]], next: null });
    expect(await countDeadLetters(nats.jsm)).toEqual({ total: 2, byConsumer: { [STAGE.durable]: 1, [OBSERVER.durable]: 1 } });

    expect(await getDeadLetter(nats.jsm, letters[1]!.seq)).toEqual(letters[1]);
    expect(await getDeadLetter(nats.jsm, letters[1]!.seq + 100)).toBeNull();
  });

  it("replays to the consumer that set it aside only, removes it, and dead-letters it anew if it fails again", async () => {
    await publishGarbage();
    const letters = await eventually(async () => {
      const l = await all();
      return l.length === 2 && l;
    }, "two dead letters");
    const observers = letters.find((d) => d.consumer === OBSERVER.durable)!;

    const replayed = await replayDeadLetter(nats.js, nats.jsm, observers.seq);
    expect(replayed).toMatchObject({ deadLetter: { seq: observers.seq }, duplicate: false });
    const copy = await nats.jsm.streams.getMessage(STREAM_NAME, { seq: replayed!.streamSeq });
    expect(copy?.header?.get("veriflow-replay-for")).toBe(OBSERVER.durable);
    expect(copy?.header?.get("ce-type")).toBe("verification.requested");
    expect(await getDeadLetter(nats.jsm, observers.seq)).toBeNull();

    // Still undecodable: the observer sets it aside again; the stage skips a replay meant for another.
    const again = await eventually(async () => {
      const l = (await all()).filter((d) => d.seq > letters[1]!.seq);
      return l.length > 0 && l;
    }, "the observer's new dead letter");
    await settle();
    expect((await all()).filter((d) => d.seq > letters[1]!.seq).map((d) => d.consumer)).toEqual([OBSERVER.durable]);
    expect(again[0]!.headers["veriflow-replay-for"]).toBeUndefined();
    expect(await replayDeadLetter(nats.js, nats.jsm, observers.seq)).toBeNull();
  });

  it("hands a replayed event to its consumer's handler, and to no other", async () => {
    // A valid event the observer set aside (as a loop does with an event its handler cannot take).
    const event = requestFor();
    const h = natsHeaders();
    h.set("veriflow-dlq-reason", "handler refused it");
    h.set("veriflow-dlq-subject", subjectFor(event.type, event.correlationId));
    h.set("veriflow-dlq-stream-seq", "1");
    h.set("veriflow-dlq-consumer", OBSERVER.durable);
    const dl = await nats.js.publish(deadLetterSubject(OBSERVER.durable), encodeEvent(event), { headers: h });

    await replayDeadLetter(nats.js, nats.jsm, dl.seq);
    await eventually(async () => handledBy.observer.includes(event.id), "the observer to handle the replay");
    await settle();
    expect(handledBy.stage).not.toContain(event.id);
    expect(await all()).toEqual([]);
  });

  it("refuses to replay a dead letter whose subject is not on the events stream", async () => {
    const h = natsHeaders();
    h.set("veriflow-dlq-subject", "elsewhere.thing");
    h.set("veriflow-dlq-consumer", "someone");
    const dl = await nats.js.publish(deadLetterSubject("someone"), new Uint8Array([1]), { headers: h });
    await expect(replayDeadLetter(nats.js, nats.jsm, dl.seq)).rejects.toThrow(NotReplayableError);
    expect(await getDeadLetter(nats.jsm, dl.seq)).not.toBeNull();
  });
});
