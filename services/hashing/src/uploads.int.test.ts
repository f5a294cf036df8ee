import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { STREAM_NAME, UPLOADS_BUCKET, createRequestEvent, stageConsumer, subjectFor, type EventType } from "@veriflow/events";
import {
  UPLOAD_CHUNK_BYTES,
  connectNats,
  createBucketUploads,
  ensureConsumer,
  ensureStreams,
  openUploadsBucket,
  publishEvents,
  putUpload,
  startStage,
  startUploadFollower,
  uploadFollows,
  type NatsClients,
  type ObjectStore,
  type RunningLoop,
  type TopologyConfig,
  type UploadFollower,
} from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { eventually, startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageModule } from "./stage.js";

/**
 * The hashing stage and the uploads it reads, on a real nats-server: an upload is deleted
 * once the stage is done with its job, whether it hashed it or gave up on it, and a request
 * delivered again after that does not fail a job that already moved on.
 */

const topology: TopologyConfig = { streamMaxAgeMs: 600_000, replicas: 1, duplicateWindowMs: 120_000, uploadsMaxAgeMs: 600_000, ackWaitMs: 30_000, maxAckPending: 100, streamMaxBytes: 64 * 1024 ** 2, deadLetterMaxBytes: 16 * 1024 ** 2, uploadsMaxBytes: 64 * 1024 ** 2, mode: "ensure" };
const log = createSilentLogger();
let server: NatsServerHandle;
let nats: NatsClients;
let bucket: ObjectStore;
let loop: RunningLoop | undefined;
let follower: UploadFollower | null = null;

const startHashing = async () => {
  const instance = stageModule.create({}, { log, uploads: createBucketUploads(nats, bucket, follower), now: () => new Date() });
  loop = await startStage({ nats, topology, stage: "hashing", instance, config: { concurrency: 4, maxAttempts: 3, backoff: { baseMs: 20, maxMs: 200 } }, log });
};

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "hashing-redelivery-test", log });
  await ensureStreams(nats.jsm, topology);
  bucket = await openUploadsBucket(nats.js, topology);
  // As the hashing service runs: large uploads announced by putUpload are read as they are stored.
  follower = startUploadFollower({ nc: nats.nc, jsm: nats.jsm, log, maxFollowing: 4, queue: "hashing" });
  await nats.nc.flush();
  await startHashing();
});
afterAll(async () => {
  await loop?.stop();
  await follower?.close();
  await nats?.close();
  await server?.stop();
});

async function countOn(type: EventType, jobId: string): Promise<number> {
  const subject = subjectFor(type, jobId);
  const info = await nats.jsm.streams.info(STREAM_NAME, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

/** Stores `bytes` as the job's upload and publishes its request, as the gateway does; `digest` overrides the stored one (a corrupt upload). */
async function submit(jobId: string, bytes: Buffer, digest?: string) {
  const info = await putUpload(nats, jobId, Readable.from([bytes]));
  const request = createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
    upload: {
      bucket: UPLOADS_BUCKET,
      name: jobId,
      size: info.size,
      fileName: null,
      contentType: null,
      nuid: info.nuid,
      chunks: info.chunks,
      digest: digest ?? info.digest,
      entrySeq: info.revision,
      chunkSeq: info.chunkSeq,
    },
  });
  await publishEvents(nats.js, [request]);
}

describe("a request hashing gives up on", () => {
  it("fails its job once, and then deletes its upload: the job is over", async () => {
    // Bytes that never match the digest the request names: E_UPLOAD_CORRUPT on every attempt.
    const jobId = "job-corrupt";
    await submit(jobId, Buffer.from("bytes that were changed in the store"), `SHA-256=${Buffer.alloc(32, 7).toString("base64url")}`);
    await eventually(async () => (await countOn("verification.failed", jobId)) === 1, "the job failed");
    const failed = await nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor("verification.failed", jobId) });
    expect(failed?.json()).toMatchObject({ data: { stage: "hashing", code: "E_UPLOAD_CORRUPT", attempts: 3 } });
    await eventually(async () => (await bucket.info(jobId)) === null, "its upload deleted");
    expect(await countOn("content.hashed", jobId)).toBe(0);
  });
});

describe("a request that names another job's upload (published past the gateway)", () => {
  it("fails its own job, and leaves that upload stored (it was read, then deleted)", async () => {
    const bystander = await putUpload(nats, "job-bystander", Readable.from([Buffer.from("someone else's file")]));
    const jobId = "job-forged";
    const forged = createRequestEvent(jobId, {
      jobId,
      request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
      upload: { bucket: UPLOADS_BUCKET, name: "job-bystander", size: bystander.size, fileName: null, contentType: null, nuid: bystander.nuid, chunks: bystander.chunks, digest: bystander.digest },
    });
    await publishEvents(nats.js, [forged]);
    await eventually(async () => (await countOn("verification.failed", jobId)) === 1, "the forged job failed");
    const failed = await nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor("verification.failed", jobId) });
    expect(failed?.json()).toMatchObject({ data: { stage: "hashing", code: "E_INVALID_ARGUMENT", attempts: 1 } });
    expect(await countOn("content.hashed", jobId)).toBe(0);
    await eventually(async () => (await nats.jsm.consumers.info(STREAM_NAME, stageConsumer("hashing").durable)).num_ack_pending === 0, "the request acknowledged");
    expect(await bucket.info("job-bystander")).toMatchObject({ size: bystander.size, deleted: false });
  });
});

describe("a request delivered again after its upload was hashed and deleted", () => {
  it("is acknowledged without failing the job, for small and multi-chunk uploads", async () => {
    const jobs = { "job-small": Buffer.from("a small upload"), "job-large": Buffer.alloc(UPLOAD_CHUNK_BYTES * 3 + 5, 9) };
    for (const [jobId, bytes] of Object.entries(jobs)) await submit(jobId, bytes);
    for (const jobId of Object.keys(jobs)) {
      await eventually(async () => (await countOn("content.hashed", jobId)) === 1, `${jobId} hashed`);
      await eventually(async () => (await bucket.info(jobId)) === null, `${jobId}'s upload deleted`);
    }

    // Deliver both requests again: a consumer recreated reading the whole stream (as nats-server
    // losing its acks in a crash, or a restart before positions were checkpointed, did).
    await loop!.stop();
    const durable = stageConsumer("hashing").durable;
    await nats.jsm.consumers.delete(STREAM_NAME, durable);
    await ensureConsumer(nats.jsm, stageConsumer("hashing"), topology, { startSeq: 1 });
    await startHashing();

    await eventually(async () => {
      const info = await nats.jsm.consumers.info(STREAM_NAME, durable);
      return info.delivered.consumer_seq >= 2 && info.num_pending === 0 && info.num_ack_pending === 0;
    }, "both requests delivered again and acknowledged");
    for (const jobId of Object.keys(jobs)) {
      expect(await countOn("verification.failed", jobId), jobId).toBe(0);
      expect(await countOn("content.hashed", jobId), jobId).toBe(1);
    }
  });
});

/** Every stream's bytes and the account's storage use: equal when nothing is counted that no stream holds (nats-io/nats-server#3876). */
async function storage() {
  let streamBytes = 0;
  for await (const stream of nats.jsm.streams.list()) streamBytes += stream.state.bytes;
  return { account: (await nats.jsm.getAccountInfo()).storage, streamBytes, uploads: (await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`)).state };
}

const idle = async () => {
  const info = await nats.jsm.consumers.info(STREAM_NAME, stageConsumer("hashing").durable);
  return info.num_pending === 0 && info.num_ack_pending === 0;
};

describe("uploads deleted after their requests are acknowledged (by sequence, in the background)", () => {
  it("are all gone: the bucket and JetStream's storage use are back where they started", async () => {
    const before = await storage();
    const jobs = Array.from({ length: 40 }, (_, i) => [`job-many-${i}`, Buffer.alloc(1000 + i * 1500, i)] as const);
    await Promise.all(jobs.map(([jobId, bytes]) => submit(jobId, bytes)));
    await eventually(async () => (await idle()) && (await storage()).uploads.messages === before.uploads.messages, "every request acked and every upload deleted");
    const after = await storage();
    expect(after.uploads).toMatchObject({ messages: before.uploads.messages, bytes: before.uploads.bytes });
    expect(after.account).toBe(after.streamBytes);
    for (const [jobId] of jobs) expect(await countOn("content.hashed", jobId), jobId).toBe(1);
  });
});

describe("a large upload read while it was stored", () => {
  it("is hashed from what was read ahead: one content.hashed with the bytes' SHA-256, and the upload deleted", async () => {
    const taken = async () => (await uploadFollows.get()).values.find((v) => v.labels.outcome === "taken")?.value ?? 0;
    const before = await taken();
    const jobId = "job-read-ahead";
    const bytes = Buffer.alloc(UPLOAD_CHUNK_BYTES * 5 + 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 5) & 0xff;
    await submit(jobId, bytes);
    await eventually(async () => (await countOn("content.hashed", jobId)) === 1, "hashed");
    const hashed = await nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor("content.hashed", jobId) });
    expect(hashed?.json()).toMatchObject({ data: { contentHash: `0x${createHash("sha256").update(bytes).digest("hex")}`, size: bytes.length } });
    expect(await taken()).toBe(before + 1);
    await eventually(async () => (await bucket.info(jobId)) === null, "its upload deleted");
    expect(await countOn("verification.failed", jobId)).toBe(0);
  });
});
