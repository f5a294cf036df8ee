import { Readable } from "node:stream";
import { Objm } from "@nats-io/obj";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEAD_LETTER_STREAM, IDEMPOTENCY_BUCKET, STREAM_NAME, UPLOADS_BUCKET } from "@veriflow/events";
import { EnvReader, createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { connectNats, type NatsClients } from "./nats.js";
import { isNatsUnavailableError, isStorageFullError, isWrongLastSequence } from "./nats-errors.js";
import { ensureStreams, openIdempotencyBucket, openUploadsBucket, readTopologyConfig } from "./topology.js";
import { testTopology } from "./topology.fixture.js";
import { deleteUpload, putUpload } from "./uploads.js";

// A JetStream store of 1 MiB: every bound below is provoked for real, on nats-server 2.9.
const KiB = 1024;
const topology = testTopology({ streamMaxBytes: 128 * KiB, deadLetterMaxBytes: 64 * KiB, uploadsMaxBytes: 256 * KiB });
let server: NatsServerHandle;
let nats: NatsClients;

beforeAll(async () => {
  server = await startNatsServer({ maxFileStore: 1024 * KiB });
  nats = await connectNats({ url: server.url, name: "storage-limits-test", log: createSilentLogger(), timeoutMs: 2000 });
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

const thrown = (p: Promise<unknown>) => p.then(() => expect.fail("expected a rejection"), (err: unknown) => err);
const bytes = (n: number) => Readable.from([Buffer.alloc(n, 7)]);

describe("the storage bounds", () => {
  it("gives the events stream, the dead-letter stream and the uploads bucket their max_bytes", async () => {
    await ensureStreams(nats.jsm, topology);
    await openUploadsBucket(nats.js, topology);
    expect((await nats.jsm.streams.info(STREAM_NAME)).config).toMatchObject({ max_bytes: 128 * KiB, discard: "old" });
    expect((await nats.jsm.streams.info(DEAD_LETTER_STREAM)).config).toMatchObject({ max_bytes: 64 * KiB, discard: "old" });
    expect((await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`)).config).toMatchObject({ max_bytes: 256 * KiB, discard: "new", max_age: 3_600_000 * 1e6 });
  });

  it("refuses an upload past the bucket's bound as 'full' (not 'unreachable'), leaving no chunk behind", async () => {
    const bucket = await openUploadsBucket(nats.js, topology);
    await putUpload(nats, "fits", bytes(100 * KiB));
    const err = await thrown(putUpload(nats, "does-not-fit", bytes(200 * KiB)));
    expect(isStorageFullError(err)).toBe(true);
    expect(isStorageFullError(new Error("wrapped", { cause: err }))).toBe(true);
    expect(isNatsUnavailableError(err)).toBe(false);
    expect(await bucket.info("does-not-fit")).toBeNull();
    // What is left is the one upload that fitted: the refused one's chunks were deleted.
    const { state } = await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`);
    expect(state.bytes).toBeLessThan(110 * KiB);
    await bucket.delete("fits");
  });

  it("removes an upload knowing only its name, giving its bytes back to JetStream's store, and writes nothing", async () => {
    const bucket = await openUploadsBucket(nats.js, topology);
    await nats.jsm.streams.purge(`OBJ_${UPLOADS_BUCKET}`);
    const used = async () => (await nats.jsm.getAccountInfo()).storage;
    const before = await used();
    await putUpload(nats, "removed", bytes(200 * KiB));
    expect(await used()).toBeGreaterThan(before + 200 * KiB);
    await deleteUpload(nats.jsm, { name: "removed", nuid: null });
    expect(await bucket.info("removed")).toBeNull();
    // A subject-filtered purge would leave the 200 KiB counted on nats-server 2.9.10 (nats-io/nats-server#3876).
    expect(await used()).toBe(before);
    // The object store's own delete would leave its entry, rewritten as "deleted": one message.
    expect((await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`)).state).toMatchObject({ messages: 0, bytes: 0 });
    // Removing what is gone is a no-op.
    await deleteUpload(nats.jsm, { name: "removed", nuid: null });
  });

  it("brings a bucket made before the bounds existed to them", async () => {
    await nats.jsm.streams.delete(`OBJ_${UPLOADS_BUCKET}`);
    await new Objm(nats.js).create(UPLOADS_BUCKET, { ttl: 86_400_000 * 1e6 });
    await openUploadsBucket(nats.js, topology);
    expect((await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`)).config).toMatchObject({ max_bytes: 256 * KiB, max_age: 3_600_000 * 1e6 });
  });

  it("says which variable to lower when JetStream cannot reserve a bound", async () => {
    const err = (await thrown(ensureStreams(nats.jsm, { ...topology, streamMaxBytes: 4096 * KiB }))) as Error;
    expect(err.message).toMatch(/cannot reserve 4194304 bytes for stream VERIFLOW.*STREAM_MAX_BYTES/);
    expect(isStorageFullError(err.cause)).toBe(true);
    await ensureStreams(nats.jsm, topology);
  });

  it("tells a full JetStream store by its code: an unbounded stream's publish past max_file_store", async () => {
    await nats.jsm.streams.add({ name: "UNBOUNDED", subjects: ["unbounded.>"] });
    let err: unknown;
    for (let i = 0; i < 100 && err === undefined; i++) {
      await nats.js.publish("unbounded.x", new Uint8Array(32 * KiB)).catch((e: unknown) => (err = e));
    }
    expect(isStorageFullError(err)).toBe(true);
    expect(isNatsUnavailableError(err)).toBe(false);
    await nats.jsm.streams.delete("UNBOUNDED");
  });

  it("keeps idempotency records in a bounded KV bucket whose create is first-wins", async () => {
    const kv = await openIdempotencyBucket(nats.js, { ttlMs: 86_400_000, maxBytes: 64 * KiB, replicas: 1 });
    expect((await nats.jsm.streams.info(`KV_${IDEMPOTENCY_BUCKET}`)).config).toMatchObject({ max_bytes: 64 * KiB, max_age: 86_400_000 * 1e6 });
    await kv.create("k", "first");
    expect(isWrongLastSequence(await thrown(kv.create("k", "second")))).toBe(true);
    expect(isStorageFullError(await thrown(kv.put("big", new Uint8Array(80 * KiB))))).toBe(true);
  });
});

describe("readTopologyConfig", () => {
  const read = (env: Record<string, string>) => {
    const r = new EnvReader(env);
    return { config: readTopologyConfig(r), problems: r.problems };
  };

  it("keeps uploads as long as events by default, and refuses a shorter upload lifetime", () => {
    expect(read({ STREAM_MAX_AGE_MS: "600000" }).config.uploadsMaxAgeMs).toBe(600_000);
    expect(read({ STREAM_MAX_AGE_MS: "600000", UPLOADS_MAX_AGE_MS: "300000" }).problems).toEqual([
      expect.stringMatching(/UPLOADS_MAX_AGE_MS \(300000\) must be >= STREAM_MAX_AGE_MS \(600000\)/),
    ]);
  });

  it("bounds every store by default and refuses a bound below 64 KiB", () => {
    const { config, problems } = read({});
    expect(config).toMatchObject({ streamMaxBytes: 1024 ** 3, deadLetterMaxBytes: 128 * 1024 ** 2, uploadsMaxBytes: 4 * 1024 ** 3 });
    expect(problems).toEqual([]);
    expect(read({ STREAM_MAX_BYTES: "1000", UPLOADS_MAX_BYTES: "-1" }).problems).toHaveLength(2);
  });
});
