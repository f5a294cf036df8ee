import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { createSilentLogger } from "@veriflow/platform";
import { connectNats, type NatsClients } from "./nats.js";
import { startStallingProxy } from "./stalling-proxy.fixture.js";
import { openUploadsBucket } from "./topology.js";
import { testTopology } from "./topology.fixture.js";
import { UPLOAD_CHUNK_BYTES, deleteUpload, hashUpload, noChunkRead, putUpload, type ObjectStore, type UploadRef } from "./uploads.js";

const topology = testTopology();
let server: NatsServerHandle;
let nats: NatsClients;
let bucket: ObjectStore;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "uploads-test", log: createSilentLogger() });
  bucket = await openUploadsBucket(nats.js, topology);
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

const sha = (b: Buffer) => `0x${createHash("sha256").update(b).digest("hex")}`;

async function store(name: string, bytes: Buffer): Promise<UploadRef> {
  // Feed it in odd-sized pieces, as a network stream would arrive.
  const pieces = [];
  for (let i = 0; i < bytes.length; i += 70_001) pieces.push(bytes.subarray(i, i + 70_001));
  const info = await putUpload(nats, name, Readable.from(pieces));
  return { name, size: info.size, nuid: info.nuid, chunks: info.chunks, digest: info.digest };
}

describe("uploads", () => {
  it.each([
    ["empty", 0],
    ["one chunk (one direct get)", 1000],
    ["several chunks (ordered consumer)", UPLOAD_CHUNK_BYTES * 3 + 17],
  ])("hashes a %s upload exactly as SHA-256 of its bytes", async (label, size) => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const ref = await store(`obj-${label.length}-${size}`, bytes);
    expect(ref.chunks).toBe(Math.ceil(size / UPLOAD_CHUNK_BYTES));
    await expect(hashUpload(nats.js, nats.jsm, bucket, ref)).resolves.toMatchObject({ sha256Hex: sha(bytes), size });
    // An older event without the object's location takes the lookup path, with the same answer.
    await expect(hashUpload(nats.js, nats.jsm, bucket, { ...ref, nuid: null, chunks: null, digest: null })).resolves.toMatchObject({ sha256Hex: sha(bytes), size });
  });

  it("fails a put whose source is destroyed without an error (a cut-off request), instead of waiting forever, and keeps nothing", async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(UPLOAD_CHUNK_BYTES + 10, 1)); // a chunk stored, then the source goes away
    const put = putUpload(nats, "cut-off", source);
    setTimeout(() => source.destroy(), 50);
    await expect(put).rejects.toMatchObject({ code: "ERR_STREAM_PREMATURE_CLOSE" });
    await expect(bucket.info("cut-off")).resolves.toBeNull();
  });

  it("catches bytes that do not match the stored digest", async () => {
    const ref = await store("tampered", Buffer.from("original bytes"));
    const otherDigest = (await store("other", Buffer.from("other bytes"))).digest;
    await expect(hashUpload(nats.js, nats.jsm, bucket, { ...ref, digest: otherDigest })).rejects.toMatchObject({ code: "E_UPLOAD_CORRUPT" });
  });

  it("deletes an upload message by message; reading it afterwards is a permanent E_UPLOAD_NOT_FOUND", async () => {
    const ref = await store("short-lived", Buffer.from("bytes to delete"));
    await deleteUpload(nats.jsm, ref);
    expect(await bucket.info("short-lived")).toBeNull();
    await expect(hashUpload(nats.js, nats.jsm, bucket, ref)).rejects.toMatchObject({ name: "PermanentError", code: "E_UPLOAD_NOT_FOUND" });
    await expect(hashUpload(nats.js, nats.jsm, bucket, { ...ref, nuid: null, chunks: null, digest: null })).rejects.toMatchObject({ code: "E_UPLOAD_NOT_FOUND" });
  });

  it("takes a nuid that is not one subject token as naming nothing: reads no other upload, deletes none (a '>' deleted every upload)", async () => {
    const small = await store("bystander-small", Buffer.from("someone else's file"));
    const large = await store("bystander-large", Buffer.alloc(UPLOAD_CHUNK_BYTES + 9, 2));
    const own = await store("forged", Buffer.from("the request's own file"));
    for (const nuid of [">", "*", "a.>", `${small.nuid}.x`, "a b"]) {
      for (const chunks of [1, 2]) {
        await expect(hashUpload(nats.js, nats.jsm, bucket, { name: "forged", size: 4, nuid, chunks, digest: "x" }), nuid).rejects.toMatchObject({ name: "PermanentError", code: "E_UPLOAD_NOT_FOUND" });
        await deleteUpload(nats.jsm, { name: "nothing-by-this-name", nuid, chunks });
      }
    }
    await expect(hashUpload(nats.js, nats.jsm, bucket, small)).resolves.toMatchObject({ size: small.size });
    await expect(hashUpload(nats.js, nats.jsm, bucket, large)).resolves.toMatchObject({ size: large.size });
    // The upload the request names by its name is the one such a nuid falls back to, and only it.
    await deleteUpload(nats.jsm, { name: "forged", nuid: ">", chunks: 1 });
    await expect(hashUpload(nats.js, nats.jsm, bucket, own)).rejects.toMatchObject({ code: "E_UPLOAD_NOT_FOUND" });
    await expect(hashUpload(nats.js, nats.jsm, bucket, small)).resolves.toMatchObject({ size: small.size });
  });

  it("fails a several-chunk upload that is gone at once, instead of waiting for chunks that never come", async () => {
    const ref = await store("gone-large", Buffer.alloc(UPLOAD_CHUNK_BYTES * 2 + 5, 1));
    await deleteUpload(nats.jsm, ref);
    const started = Date.now();
    await expect(hashUpload(nats.js, nats.jsm, bucket, ref)).rejects.toMatchObject({ name: "PermanentError", code: "E_UPLOAD_NOT_FOUND" });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("reading a stored upload has a deadline", () => {
  const bigBytes = Buffer.alloc(UPLOAD_CHUNK_BYTES * 4, 7);

  it("a multi-chunk read that stalls mid-stream fails as a TransientError, not a hang", async () => {
    const ref = await store("stalls", bigBytes);
    const proxy = await startStallingProxy(server.port);
    const reader = await connectNats({ url: proxy.url, name: "uploads-stall-test", log: createSilentLogger() });
    try {
      // About one and a half chunks reach the reader, then nothing more.
      proxy.stallAfter(Math.floor(UPLOAD_CHUNK_BYTES * 1.5));
      const started = Date.now();
      await expect(hashUpload(reader.js, reader.jsm, bucket, ref, { stallMs: 500 })).rejects.toMatchObject({
        name: "TransientError",
        code: "E_UPLOAD_UNAVAILABLE",
        message: expect.stringMatching(/stalled/),
      });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      reader.nc.close().catch(() => {});
      await proxy.close();
    }
  });

  it("a multi-chunk upload deleted before its read is a permanent E_UPLOAD_NOT_FOUND at once", async () => {
    const ref = await store("big-and-gone", bigBytes);
    await deleteUpload(nats.jsm, ref);
    const started = Date.now();
    await expect(hashUpload(nats.js, nats.jsm, bucket, ref)).rejects.toMatchObject({ name: "PermanentError", code: "E_UPLOAD_NOT_FOUND" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a read that found no chunk of an upload the stream's leader still has is a read to retry, not a lost upload", async () => {
    const ref = await store("big-read-stale", bigBytes);
    await expect(noChunkRead(nats.jsm, ref.name, ref.nuid!)).resolves.toMatchObject({ name: "TransientError", code: "E_UPLOAD_UNAVAILABLE" });
    await deleteUpload(nats.jsm, ref);
    await expect(noChunkRead(nats.jsm, ref.name, ref.nuid!)).resolves.toMatchObject({ name: "PermanentError", code: "E_UPLOAD_NOT_FOUND" });
  });
});
