import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { UPLOADS_BUCKET, type EventData } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBucketUploads } from "./bucket-uploads.js";
import { connectNats, type NatsClients } from "./nats.js";
import { openUploadsBucket } from "./topology.js";
import { testTopology } from "./topology.fixture.js";
import { deleteUpload, hashUpload, putUpload, type ObjectStore } from "./uploads.js";

/**
 * A one-chunk upload read and deleted by the stream sequences its request names, on a real
 * nats-server: what the hashing stage asks of the server, and that a sequence naming anything
 * but the upload's own messages reads and deletes nothing of another upload.
 */

type Ref = NonNullable<EventData<"verification.requested">["upload"]>;
const STREAM = `OBJ_${UPLOADS_BUCKET}`;
let server: NatsServerHandle;
let nats: NatsClients;
let spy: NatsClients;
let bucket: ObjectStore;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "bucket-uploads-test", log: createSilentLogger() });
  spy = await connectNats({ url: server.url, name: "bucket-uploads-spy", log: createSilentLogger() });
  bucket = await openUploadsBucket(nats.js, testTopology());
});
afterAll(async () => {
  await spy?.close();
  await nats?.close();
  await server?.stop();
});

const sha = (b: Buffer) => `0x${createHash("sha256").update(b).digest("hex")}`;

/** Stores `bytes` under `name` and answers the ref the gateway puts in its request. */
async function store(name: string, bytes: Buffer): Promise<Ref> {
  const s = await putUpload(nats, name, Readable.from([bytes]));
  return { bucket: UPLOADS_BUCKET, name, size: s.size, fileName: null, contentType: null, nuid: s.nuid, chunks: s.chunks, digest: s.digest, entrySeq: s.revision, chunkSeq: s.chunkSeq };
}

/** The JetStream API requests `run` makes (their subjects, without the stream's name and what follows). */
async function requestsOf(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const sub = spy.nc.subscribe("$JS.API.>", {
    callback: (_err, m) => void seen.push(m.subject.slice(0, m.subject.indexOf(`.${STREAM}`)) + (m.subject.endsWith(STREAM) ? "" : " (by subject)")),
  });
  await spy.nc.flush();
  await run();
  await spy.nc.flush();
  await nats.nc.flush();
  sub.unsubscribe();
  return seen.sort();
}

const isStored = async (name: string) => (await bucket.info(name))?.deleted === false;

describe("a one-chunk upload whose request names its sequences", () => {
  it("is read in one round trip (its chunk and its entry at once) and deleted with two requests, no lookups", async () => {
    const bytes = Buffer.from("a small upload");
    const ref = await store("by-seq", bytes);
    expect(ref.chunkSeq).toBeGreaterThan(0);
    expect(ref.entrySeq).toBeGreaterThan(ref.chunkSeq!);
    const uploads = createBucketUploads(nats, bucket);

    let hashed;
    expect(await requestsOf(async () => (hashed = await uploads.hash(ref)))).toEqual(["$JS.API.DIRECT.GET", "$JS.API.DIRECT.GET"]);
    expect(hashed).toEqual({ sha256Hex: sha(bytes), size: bytes.length });
    expect(await requestsOf(() => uploads.release(ref))).toEqual(["$JS.API.STREAM.MSG.DELETE", "$JS.API.STREAM.MSG.DELETE"]);
    expect(await bucket.info("by-seq")).toBeNull();
    expect((await nats.jsm.streams.info(STREAM)).state).toMatchObject({ messages: 0, bytes: 0 });
  });

  it("answers what it read at those sequences, checked", async () => {
    const ref = await store("checked", Buffer.from("checked bytes"));
    await expect(hashUpload(nats.js, nats.jsm, bucket, ref)).resolves.toMatchObject({ checked: { name: "checked", nuid: ref.nuid, seqs: [ref.chunkSeq, ref.entrySeq] } });
    // Without them (an older request), the same bytes by subject, nothing checked.
    const { entrySeq: _e, chunkSeq: _c, ...older } = ref;
    await expect(hashUpload(nats.js, nats.jsm, bucket, older)).resolves.toMatchObject({ size: ref.size, checked: null });
    await expect(hashUpload(nats.js, nats.jsm, bucket, { ...ref, entrySeq: null, chunkSeq: null })).resolves.toMatchObject({ checked: null });
    await deleteUpload(nats.jsm, ref);
  });

  it("takes a sequence that holds another upload's message as naming nothing: reads its own bytes by subject, deletes only its own", async () => {
    const bystanderBytes = Buffer.from("someone else's file");
    const bystander = await store("bystander", bystanderBytes);
    const gone = await store("gone", Buffer.from("deleted before"));
    await deleteUpload(nats.jsm, gone);
    const wrong: Record<string, Partial<Ref>> = {
      "its chunk": { chunkSeq: bystander.chunkSeq },
      "its entry": { entrySeq: bystander.entrySeq },
      "both of its messages": { chunkSeq: bystander.chunkSeq, entrySeq: bystander.entrySeq },
      "its entry as the chunk": { chunkSeq: bystander.entrySeq },
      "a deleted message": { chunkSeq: gone.chunkSeq, entrySeq: gone.entrySeq },
      "one past the end": { chunkSeq: 1_000_000, entrySeq: 1_000_001 },
    };
    for (const [label, seqs] of Object.entries(wrong)) {
      const bytes = Buffer.from(`own bytes, ${label}`);
      const ref = { ...(await store(`own-${label}`, bytes)), ...seqs };
      const uploads = createBucketUploads(nats, bucket);
      await expect(uploads.hash(ref), label).resolves.toEqual({ sha256Hex: sha(bytes), size: bytes.length });
      await expect(hashUpload(nats.js, nats.jsm, bucket, ref), label).resolves.toMatchObject({ checked: null });
      await uploads.release(ref);
      expect(await bucket.info(ref.name), label).toBeNull();
      expect(await isStored("bystander"), label).toBe(true);
      await expect(hashUpload(nats.js, nats.jsm, bucket, bystander), label).resolves.toMatchObject({ sha256Hex: sha(bystanderBytes) });
    }
  });

  it("released without having been read by this reader (a job given up on, an earlier replica's read), is looked up and deleted", async () => {
    const ref = await store("unread", Buffer.from("never hashed here"));
    await createBucketUploads(nats, bucket).release(ref);
    expect(await bucket.info("unread")).toBeNull();
  });

  it("deleted before its read is E_UPLOAD_NOT_FOUND, by sequence as by subject", async () => {
    const ref = await store("deleted-first", Buffer.from("gone"));
    await deleteUpload(nats.jsm, ref);
    await expect(createBucketUploads(nats, bucket).hash(ref)).rejects.toMatchObject({ name: "PermanentError", code: "E_UPLOAD_NOT_FOUND" });
  });
});
