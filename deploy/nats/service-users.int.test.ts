import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy, type JsMsg } from "@nats-io/jetstream";
import {
  JOB_CHANGED_SUBJECT,
  STREAM_NAME,
  UPLOADS_BUCKET,
  decodeEvent,
  observerConsumer,
  pipeline,
  stageConsumer,
  subjectFor,
  subjectsOf,
  type AnyEnvelope,
  type Envelope,
  type EventData,
  type StageName,
  type StageSpec,
} from "@veriflow/events";
import {
  UPLOAD_CHUNK_BYTES,
  createBucketUploads,
  createKnownVerdictStore,
  deadLetter,
  deleteUpload,
  ensureConsumer,
  ensureStreams,
  findLastEvent,
  hashUpload,
  isNotFound,
  isUploadStored,
  listDeadLetters,
  loadConsumerPosition,
  nextUploadEntry,
  openIdempotencyBucket,
  openKnownVerdictsBucket,
  openUploadsBucket,
  publishEvents,
  putUpload,
  readQueue,
  replayDeadLetter,
  saveConsumerPosition,
  type NatsClients,
  type UploadRef,
} from "@veriflow/nats";
import { failedEventFor } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { checkedFor, completedFor, hashedFor, requestFor } from "../../libs/nats/src/pipeline-events.fixture.js";
import { startNatsWithUsers, topology, type NatsWithUsers } from "./nats-users.fixture.js";

// One job relayed from user to user, each logged in with its own password and doing what its
// service does with the project's own functions: the tests run in order, each taking what the
// one before published. Any call a user's permissions lack fails here, and the server's log
// must hold no permission violation at the end.
let nats: NatsWithUsers;
const jobId = randomUUID();
const upload = Buffer.alloc(UPLOAD_CHUNK_BYTES * 6 + 99, 7);
let uploadRef: UploadRef;
/** A one-chunk upload, named by the sequences of its messages as the gateway's request names them. */
let smallRef: NonNullable<EventData<"verification.requested">["upload"]>;
let terminalHeard: Promise<string>;
const log = createSilentLogger();

beforeAll(async () => {
  nats = await startNatsWithUsers();
});
afterAll(async () => {
  await nats?.stop();
});

/** The next message of a durable consumer, pulled as its service pulls it. */
async function pull(c: NatsClients, durable: string): Promise<JsMsg> {
  const m = await (await c.js.consumers.get(STREAM_NAME, durable)).next({ expires: 5000 });
  if (!m) throw new Error(`nothing for ${durable}`);
  return m;
}

/** What a consume loop does besides handling: set a message aside, checkpoint, read the checkpoint back, ack. */
async function asideCheckpointAck(c: NatsClients, durable: string, m: JsMsg): Promise<void> {
  expect(await deadLetter(c.js, durable, m, new Error("set aside by the permissions test"), log)).toBe(true);
  const streamCreated = (await c.jsm.streams.info(STREAM_NAME)).created;
  await saveConsumerPosition(c.js, durable, { stream: STREAM_NAME, streamCreated, ackFloor: m.seq });
  expect(await loadConsumerPosition(c.jsm, durable)).toMatchObject({ ackFloor: m.seq });
  expect(await m.ackAck()).toBe(true);
}

/** Each stage's output for the input it takes (a new stage fails to compile until it has one). */
const outputOf: Record<StageName, (input: AnyEnvelope) => Envelope> = {
  hashing: (input) => hashedFor(input as Envelope<"verification.requested">),
  manifest: (input) => checkedFor(input as Envelope<"content.hashed">),
  "chain-check": (input) => completedFor(input as Envelope<"manifest.checked">),
};

/** A stage that may send a job back: it produces what a stage before it consumes. */
const sendsBack = (spec: StageSpec) => {
  const before = pipeline.stages.slice(0, pipeline.stages.findIndex((s) => s.service === spec.service));
  return before.some((s) => (spec.produces as readonly string[]).includes(s.consumes));
};

describe("each service's NATS user, under deploy/nats/nats-server.conf", () => {
  it("gateway: sets up the streams and its buckets, stores an upload, keeps idempotency records, reads the backlog, publishes the request", async () => {
    const gw = await nats.connectAs("gateway");
    await ensureStreams(gw.jsm, topology);
    const uploads = await openUploadsBucket(gw.js, topology);
    const info = await putUpload(gw, jobId, Readable.from([upload]));
    uploadRef = { name: jobId, size: info.size, nuid: info.nuid, chunks: info.chunks, digest: info.digest };
    const small = await putUpload(gw, `${jobId}-small`, Readable.from([Buffer.from("one chunk")]));
    smallRef = { ...small, bucket: UPLOADS_BUCKET, fileName: null, contentType: null, entrySeq: small.revision };
    // A refused submission's upload is deleted: one chunk, and several (their sequences listed by a consumer).
    await putUpload(gw, `${jobId}-refused`, Readable.from([Buffer.from("refused")]));
    await deleteUpload(gw.jsm, { name: `${jobId}-refused`, nuid: null, chunks: 1 });
    await putUpload(gw, `${jobId}-refused-large`, Readable.from([upload]));
    await deleteUpload(gw.jsm, { name: `${jobId}-refused-large`, nuid: null });
    expect(await uploads.info(`${jobId}-refused-large`)).toBeNull();

    const kv = await openIdempotencyBucket(gw.js, { ttlMs: 86_400_000, maxBytes: 1024 ** 2, replicas: 1 });
    const claimed = await kv.create("key-1", "pending");
    expect((await kv.get("key-1"))?.string()).toBe("pending");
    await kv.delete("key-1", { previousSeq: await kv.update("key-1", "accepted", claimed) });

    // Admission reads every pipeline consumer (missing ones are "not found", not refused).
    for (const durable of [...pipeline.stages, ...pipeline.observers].map((s) => s.durable)) {
      await gw.jsm.consumers.info(STREAM_NAME, durable).catch((err: unknown) => {
        if (!isNotFound(err, "consumer")) throw err;
      });
    }
    // A synchronous request hears its job's outcome over core NATS.
    const sub = gw.nc.subscribe(subjectFor("verification.completed", jobId), { max: 1 });
    terminalHeard = (async () => {
      for await (const m of sub) return m.subject;
      throw new Error("the gateway's subscription ended without the outcome");
    })();
    await publishEvents(gw.js, [requestFor(jobId)]);
  });

  it.each(pipeline.stages.map((s) => [s.service, s] as const))("%s: ensures its consumer, takes its input, publishes its output and the give-up event", async (_name, spec) => {
    const c = await nats.connectAs(spec.service);
    await ensureStreams(c.jsm, topology);
    await ensureConsumer(c.jsm, stageConsumer(spec.service), topology);
    const m = await pull(c, spec.durable);
    const input = decodeEvent(m.data);
    expect(input.type).toBe(spec.consumes);
    if (spec.readsUploads) {
      const bucket = await openUploadsBucket(c.js, topology);
      // Many chunks: the ordered push consumer, its flow control; then the release.
      expect((await hashUpload(c.js, c.jsm, bucket, uploadRef)).size).toBe(upload.length);
      await deleteUpload(c.jsm, uploadRef);
      // One chunk, by its sequences: the chunk and the entry by direct get, then deleted by sequence.
      const reader = createBucketUploads(c, bucket);
      expect(await reader.hash(smallRef)).toMatchObject({ size: smallRef.size });
      await reader.release(smallRef);
      expect(await bucket.info(smallRef.name)).toBeNull();
      // The uploads sweep walks the entries by sequence.
      expect(await nextUploadEntry(c.jsm, 1)).toBeNull();
    }
    if ((spec as StageSpec).readsKnownVerdicts) {
      // manifest looks a question up before it fetches; chain-check reads the record a pointer names.
      const known = createKnownVerdictStore(await openKnownVerdictsBucket(c.js, topology));
      expect(await known.find({ tenant: "default", jobType: "verify", registryAddress: "0x" + "2".repeat(40), contentHash: "0x" + "ab".repeat(32), manifestUri: "https://m.example/x.json" })).toBeNull();
    }
    if (sendsBack(spec)) {
      // chain-check sends a job whose known verdict no longer holds back to the manifest stage (another job here: this one moves on).
      await publishEvents(c.js, [hashedFor(requestFor(randomUUID()))]);
    }
    // The give-up for another job: a job's terminal events share one id, and the stream would drop the verdict.
    const givenUp = failedEventFor(spec.service, requestFor(randomUUID()), new Error("permissions test"), 1);
    await publishEvents(c.js, [outputOf[spec.service](input), givenUp]);
    // A redelivered input's outcome is looked up in the stream (prior-outcome.ts).
    expect(await findLastEvent(c.jsm, spec.produces[0], jobId)).not.toBeNull();
    await asideCheckpointAck(c, spec.durable, m);
  });

  it("the gateway heard the job's outcome", async () => {
    await expect(terminalHeard).resolves.toBe(subjectFor("verification.completed", jobId));
  });

  it.each(pipeline.observers.map((o) => [o.service, o] as const))("%s: ensures its consumer and reads every event of the job", async (_name, spec) => {
    const c = await nats.connectAs(spec.service);
    await ensureStreams(c.jsm, topology);
    await ensureConsumer(c.jsm, observerConsumer(spec.service), topology);
    const first = await pull(c, spec.durable);
    await asideCheckpointAck(c, spec.durable, first);
    // The request, then each stage's output and give-up.
    for (let i = 1; i < 1 + pipeline.stages.length * 2; i++) expect(await (await pull(c, spec.durable)).ackAck()).toBe(true);
  });

  it("status: retries a job (any stage's input), replays a dead letter, tells its replicas what changed, checks an upload, reads the queue's metrics", async () => {
    const status = await nats.connectAs("status");
    const retried = { ...hashedFor(requestFor(jobId)), id: randomUUID(), run: 2 };
    await publishEvents(status.js, [retried]);

    const { deadLetters } = await listDeadLetters(status.jsm, { consumer: "manifest", limit: 10 });
    expect(deadLetters).toHaveLength(1);
    expect(await replayDeadLetter(status.js, status.jsm, deadLetters[0]!.seq)).toMatchObject({ duplicate: false });

    const changed = status.nc.subscribe(`${JOB_CHANGED_SUBJECT}.*`, { max: 1 });
    status.nc.publish(`${JOB_CHANGED_SUBJECT}.${jobId}`);
    for await (const m of changed) expect(m.subject).toBe(`${JOB_CHANGED_SUBJECT}.${jobId}`);

    expect(await isUploadStored(status.jsm, uploadRef)).toBe(false);

    // The queue metrics (queue-metrics.ts): every pipeline consumer's info, the dead letters' count.
    const queue = await readQueue(status.jsm);
    expect(queue.consumers.filter((c) => c.kind === "stage" && c.info !== null).map((c) => c.durable)).toEqual(pipeline.stages.map((s) => s.durable));
    expect(queue.deadLetters.total).toBeGreaterThanOrEqual(0);
  });

  it("subscriber: creates a durable consumer of its own and reads the completions", async () => {
    const sub = await nats.connectAs("subscriber");
    await sub.jsm.consumers.add(STREAM_NAME, { durable_name: "my-completions", filter_subject: subjectsOf("verification.completed"), ack_policy: AckPolicy.Explicit });
    const m = await pull(sub, "my-completions");
    expect(m.subject).toBe(subjectFor("verification.completed", jobId));
    expect(await m.ackAck()).toBe(true);
  });

  it("no user was refused anything on the way", () => {
    expect(nats.server.errors().filter((line) => /violation/i.test(line))).toEqual([]);
  });
});
