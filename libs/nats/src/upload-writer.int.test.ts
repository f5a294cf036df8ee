import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UPLOADS_BUCKET } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { eventually, startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { connectNats, type NatsClients } from "./nats.js";
import { isStorageFullError, isWrongLastSequence } from "./nats-errors.js";
import { startStallingProxy } from "./stalling-proxy.fixture.js";
import { openUploadsBucket } from "./topology.js";
import { testTopology } from "./topology.fixture.js";
import { UPLOAD_CHUNK_BYTES, deleteUpload, hashUpload, putUpload, type ObjectStore } from "./uploads.js";

// JetStream's store holds 32 MiB, the uploads bucket 8 MiB: a put of more fails midway, on nats-server 2.9.10.
const MiB = 1024 ** 2;
const STREAM = `OBJ_${UPLOADS_BUCKET}`;
let server: NatsServerHandle;
let nats: NatsClients;
let bucket: ObjectStore;

beforeAll(async () => {
  server = await startNatsServer({ maxFileStore: 32 * MiB });
  nats = await connectNats({ url: server.url, name: "upload-writer-test", log: createSilentLogger() });
  bucket = await openUploadsBucket(nats.js, testTopology({ uploadsMaxBytes: 8 * MiB }));
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

const thrown = (p: Promise<unknown>) => p.then(() => expect.fail("expected a rejection"), (err: unknown) => err);
const storageUsed = async () => (await nats.jsm.getAccountInfo()).storage;
const streamState = async () => (await nats.jsm.streams.info(STREAM)).state;
const patterned = (size: number) => {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
};
/** The bytes in 64 KiB pieces, as a network delivers them. */
function* piecesOf(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, at + 64 * 1024);
}
const entryOf = async (name: string) => {
  const m = await nats.jsm.streams.getMessage(STREAM, { last_by_subj: `$O.${UPLOADS_BUCKET}.M.${Base64UrlPaddedCodec.encode(name)}` });
  return { json: m!.json<Record<string, unknown>>(), rollup: m!.header?.get("Nats-Rollup") };
};

describe("putUpload writes an object as ObjectStore.put() does", () => {
  it.each([
    ["empty", 0],
    ["one chunk", 1000],
    ["several chunks", UPLOAD_CHUNK_BYTES * 3 + 17],
  ])("%s: the same entry, read back by info(), list(), get() and hashUpload", async (_label, size) => {
    const bytes = patterned(size);
    const [ours, theirs] = [`ours-${size}`, `theirs-${size}`];
    const stored = await putUpload(nats, ours, Readable.from(piecesOf(bytes)), { fileName: "a b.pdf", contentType: "application/pdf" });
    const h = natsHeaders();
    h.set("x-file-name", encodeURIComponent("a b.pdf"));
    h.set("content-type", "application/pdf");
    await bucket.putBlob({ name: theirs, options: { max_chunk_size: UPLOAD_CHUNK_BYTES }, headers: h }, bytes);

    const [a, b] = [await entryOf(ours), await entryOf(theirs)];
    expect(Object.keys(a.json)).toEqual(Object.keys(b.json));
    const own = { name: "", nuid: "", mtime: "" }; // what differs from one object to the next
    expect({ ...a.json, ...own }).toEqual({ ...b.json, ...own });
    expect([a.rollup, b.rollup]).toEqual(["sub", "sub"]);

    const { nuid, chunks, digest, revision } = stored;
    expect(chunks).toBe(Math.ceil(size / UPLOAD_CHUNK_BYTES));
    expect(await bucket.info(ours)).toMatchObject({ name: ours, size, nuid, chunks, digest, revision, deleted: false });
    expect((await bucket.info(ours))?.headers?.get("content-type")).toBe("application/pdf");
    expect((await bucket.list()).map((o) => o.name)).toContain(ours);
    expect(Buffer.from((await bucket.getBlob(ours)) ?? []).equals(bytes)).toBe(true);
    const sha256Hex = `0x${createHash("sha256").update(bytes).digest("hex")}`;
    await expect(hashUpload(nats.js, nats.jsm, bucket, stored)).resolves.toMatchObject({ sha256Hex, size });
    // One chunk: its sequence, from its ack, holds it (the request carries it to hashing).
    if (chunks === 1) expect((await nats.jsm.streams.getMessage(STREAM, { seq: stored.chunkSeq! }))?.subject).toBe(`$O.${UPLOADS_BUCKET}.C.${nuid}`);
    else expect(stored.chunkSeq).toBeNull();
    for (const name of [ours, theirs]) await deleteUpload(nats.jsm, { name, nuid: null });
  });
});

describe("putUpload's pace", () => {
  it("is asked before each chunk is stored, and no chunk is stored before its turn", async () => {
    const bytes = patterned(UPLOAD_CHUNK_BYTES * 2 + 5);
    let turns = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const before = (await streamState()).messages;
    const put = putUpload({ ...nats, pace: () => (++turns === 2 ? gate : null) }, "paced", Readable.from(piecesOf(bytes)));
    await eventually(async () => turns === 2, "the second chunk's turn asked for");
    await sleep(100);
    expect((await streamState()).messages - before).toBe(1); // the first chunk only
    open();
    const stored = await put;
    expect(turns).toBe(3);
    expect(stored.chunks).toBe(3);
    await deleteUpload(nats.jsm, { name: "paced", nuid: null });
  });
});

/**
 * nats-server 2.9.10 keeps the bytes of a subject-filtered purge counted against max_file_store
 * (nats-io/nats-server#3876): ObjectStore.put() cleans up a failed put that way. The account's
 * storage use is the figure JetStream refuses writes by; each put below must leave it as it was.
 */
describe("a put leaves JetStream's storage use as it found it", () => {
  it("when the bucket fills midway: chunks stored, then refused, then deleted message by message", async () => {
    const [before, { last_seq: seqBefore }] = [await storageUsed(), await streamState()];
    const err = await thrown(putUpload(nats, "too-big", Readable.from(piecesOf(Buffer.alloc(10 * MiB, 1)))));
    expect(isStorageFullError(err)).toBe(true);
    expect(await bucket.info("too-big")).toBeNull();
    const state = await streamState();
    expect(state.last_seq - seqBefore).toBeGreaterThan(1); // it failed midway: chunks had been stored
    expect(state.messages).toBe(0);
    expect(await storageUsed()).toBe(before);
  });

  it("when the source fails midway (the client went away)", async () => {
    const before = await storageUsed();
    async function* abortsAfterTwoChunks() {
      yield* piecesOf(Buffer.alloc(UPLOAD_CHUNK_BYTES * 2 + 1000, 2));
      await eventually(async () => (await streamState()).messages >= 2, "two chunks stored");
      throw new Error("client went away");
    }
    await expect(putUpload(nats, "aborted", Readable.from(abortsAfterTwoChunks()))).rejects.toThrow("client went away");
    expect(await streamState()).toMatchObject({ messages: 0, bytes: 0 });
    expect(await storageUsed()).toBe(before);
  });

  it("when a put stored and then deleted", async () => {
    const before = await storageUsed();
    const stored = await putUpload(nats, "kept", Readable.from(piecesOf(Buffer.alloc(UPLOAD_CHUNK_BYTES * 2 + 1000, 3))));
    expect(await storageUsed()).toBeGreaterThan(before + 2 * UPLOAD_CHUNK_BYTES);
    await deleteUpload(nats.jsm, stored);
    expect(await streamState()).toMatchObject({ messages: 0, bytes: 0 });
    expect(await storageUsed()).toBe(before);
  });

  it("when the name is taken: an upload's name is written once", async () => {
    const first = await putUpload(nats, "taken", Readable.from([Buffer.from("first")]));
    const before = await storageUsed();
    const err = await thrown(putUpload(nats, "taken", Readable.from(piecesOf(Buffer.alloc(UPLOAD_CHUNK_BYTES + 1, 4)))));
    expect(isWrongLastSequence(err)).toBe(true);
    expect(await bucket.info("taken")).toMatchObject({ nuid: first.nuid, size: 5 });
    expect(await storageUsed()).toBe(before);
    await deleteUpload(nats.jsm, first);
  });

  it.each([
    ["the chunks'", "$O."],
    ["the entry's", `$O.${UPLOADS_BUCKET}.M.`],
  ])("when %s acks never came back: what the server stored anyway is found and deleted too", async (_what, heldFrom) => {
    const proxy = await startStallingProxy(server.port);
    const writer = await connectNats({ url: proxy.url, name: "upload-writer-unacked", log: createSilentLogger(), timeoutMs: 500 });
    try {
      const [before, { last_seq: seqBefore }] = [await storageUsed(), await streamState()];
      // The server stores what the writer sends; its acks are held from the first publish on
      // `heldFrom` until the writer's first API request (its clean-up), so every one times out.
      proxy.whenClientSends(heldFrom, () => {
        proxy.stallAfter(0);
        proxy.whenClientSends("$JS.API.", proxy.resume);
      });
      await thrown(putUpload(writer, "unacked", Readable.from(piecesOf(Buffer.alloc(UPLOAD_CHUNK_BYTES * 3, 5)))));
      const state = await streamState();
      expect(state.last_seq - seqBefore).toBeGreaterThan(0);
      expect(state).toMatchObject({ messages: 0, bytes: 0 });
      expect(await bucket.info("unacked")).toBeNull();
      expect(await storageUsed()).toBe(before);
    } finally {
      writer.nc.close().catch(() => {});
      await proxy.close();
    }
  });
});

describe("putUpload reads its source only as fast as chunks are stored", () => {
  it("stops reading while acks are held back, and goes on when they come", async () => {
    const proxy = await startStallingProxy(server.port);
    const writer = await connectNats({ url: proxy.url, name: "upload-writer-backpressure", log: createSilentLogger() });
    try {
      let pulled = 0;
      function* counted() {
        for (const piece of piecesOf(Buffer.alloc(12 * UPLOAD_CHUNK_BYTES, 6))) {
          pulled += piece.length;
          yield piece;
        }
      }
      proxy.stallAfter(0);
      const put = putUpload(writer, "held", Readable.from(counted(), { highWaterMark: 1 }));
      await eventually(async () => (await streamState()).messages >= 1, "a chunk stored");
      await sleep(300);
      // The chunks whose acks it awaits, the one it fills and a piece or two: never the whole file.
      expect(pulled).toBeLessThanOrEqual(6 * UPLOAD_CHUNK_BYTES);
      proxy.resume();
      const stored = await put;
      expect(stored).toMatchObject({ size: 12 * UPLOAD_CHUNK_BYTES, chunks: 12 });
      await deleteUpload(nats.jsm, stored);
    } finally {
      writer.nc.close().catch(() => {});
      await proxy.close();
    }
  });

  it("fails with the source's error when the source fails while acks are awaited", async () => {
    const proxy = await startStallingProxy(server.port);
    const writer = await connectNats({ url: proxy.url, name: "upload-writer-source-fails", log: createSilentLogger() });
    try {
      const before = await storageUsed();
      const source = new Readable({ read() {} });
      for (const piece of piecesOf(Buffer.alloc(6 * UPLOAD_CHUNK_BYTES, 7))) source.push(piece);
      proxy.stallAfter(0);
      const put = thrown(putUpload(writer, "failing", source));
      await eventually(async () => (await streamState()).messages >= 1, "a chunk stored");
      source.destroy(new Error("client went away"));
      proxy.resume();
      expect(await put).toMatchObject({ message: "client went away" });
      expect(await streamState()).toMatchObject({ messages: 0, bytes: 0 });
      expect(await storageUsed()).toBe(before);
    } finally {
      writer.nc.close().catch(() => {});
      await proxy.close();
    }
  });
});
