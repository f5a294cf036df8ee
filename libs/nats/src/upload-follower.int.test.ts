import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { UPLOAD_STARTED_SUBJECT } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { connectNats, type NatsClients } from "./nats.js";
import { openUploadsBucket } from "./topology.js";
import { testTopology } from "./topology.fixture.js";
import type { ReadHead } from "./upload-chunks.js";
import { createUploadFollower, startUploadFollower, type UploadFollower } from "./upload-follower.js";
import { chunkSubject, deleteMessage, seqsOf } from "./upload-stream.js";
import { UPLOAD_CHUNK_BYTES, hashUpload, putUpload, type ObjectStore, type StoredUpload, type UploadRef } from "./uploads.js";

/**
 * The head start for large uploads on a real nats-server: a follower reads an upload's chunks
 * while it is stored, and hashUpload goes on from there. The head is only ever a shortcut:
 * every way it can be wrong or missing ends in the ordinary read, with the ordinary answer.
 */
const log = createSilentLogger();
let server: NatsServerHandle;
let nats: NatsClients;
let bucket: ObjectStore;
const followers: UploadFollower[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "upload-follower-test", log });
  bucket = await openUploadsBucket(nats.js, testTopology());
});
afterEach(async () => {
  await Promise.all(followers.splice(0).map((f) => f.close()));
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

const sha = (b: Buffer) => `0x${createHash("sha256").update(b).digest("hex")}`;
const refOf = (s: StoredUpload): UploadRef => ({ name: s.name, size: s.size, nuid: s.nuid, chunks: s.chunks, digest: s.digest });
const bytesOf = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff));

function follower() {
  const f = createUploadFollower({ jsm: nats.jsm, log, maxFollowing: 4 });
  followers.push(f);
  return f;
}

/** The follower, with every head it hands over kept for the test to look at. */
function recording(f: UploadFollower) {
  const taken: (ReadHead | null)[] = [];
  return {
    taken,
    take: async (nuid: string) => {
      const head = await f.take(nuid);
      taken.push(head && { ...head });
      return head;
    },
  };
}

/** A source the test feeds: pieces pushed when it says, ended or destroyed when it says. */
function feed() {
  const source = new Readable({ read() {} });
  return { source, push: (b: Buffer) => source.push(b), end: () => source.push(null) };
}

/** How many chunks of `nuid` the stream holds. */
async function storedChunks(nuid: string) {
  return (await seqsOf(nats.jsm, chunkSubject(nuid))).length;
}

describe("a large upload read while it is stored", () => {
  it("is announced by putUpload at its second chunk, read by one follower of the queue, and hashed from its head", async () => {
    const a = startUploadFollower({ nc: nats.nc, jsm: nats.jsm, log, maxFollowing: 4, queue: "hashing" })!;
    const b = startUploadFollower({ nc: nats.nc, jsm: nats.jsm, log, maxFollowing: 4, queue: "hashing" })!;
    followers.push(a, b);
    await nats.nc.flush();
    const bytes = bytesOf(UPLOAD_CHUNK_BYTES * 3 + 123, 1);
    const stored = await putUpload({ ...nats }, "announced", Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
    expect(stored.chunks).toBe(4);
    const ra = recording(a);
    const rb = recording(b);
    // The follower catches up with the last chunk (as it does while the request is published).
    await eventually(async () => a.progress(stored.nuid) === 4 || b.progress(stored.nuid) === 4, "the upload read ahead");
    expect([a.progress(stored.nuid), b.progress(stored.nuid)]).toContain(null);
    const results = await Promise.all([hashUpload(nats.js, nats.jsm, bucket, refOf(stored), { follower: ra }), hashUpload(nats.js, nats.jsm, bucket, refOf(stored), { follower: rb })]);
    for (const r of results) expect(r).toEqual({ sha256Hex: sha(bytes), size: bytes.length, checked: null });
    // Exactly one of the two replicas followed it, and its head held every chunk.
    const heads = [...ra.taken, ...rb.taken].filter((h) => h !== null);
    expect(heads).toHaveLength(1);
    expect(heads[0]).toMatchObject({ chunks: 4, size: bytes.length });
  });

  it("is not announced when it fits one chunk", async () => {
    const f = startUploadFollower({ nc: nats.nc, jsm: nats.jsm, log, maxFollowing: 4, queue: "hashing" })!;
    followers.push(f);
    await nats.nc.flush();
    const stored = await putUpload({ ...nats }, "small", Readable.from([bytesOf(UPLOAD_CHUNK_BYTES, 2)]));
    expect(stored.chunks).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(await f.take(stored.nuid)).toBeNull();
  });

  it("goes on from a head that stopped part way (a pause longer than the follower waits) and reads only the rest", async () => {
    const f = startUploadFollower({ nc: nats.nc, jsm: nats.jsm, log, maxFollowing: 4, queue: "hashing", idleMs: 200 })!;
    followers.push(f);
    const announced = nextAnnouncement("paused");
    await nats.nc.flush();
    const { source, push, end } = feed();
    const bytes = bytesOf(UPLOAD_CHUNK_BYTES * 4 + 5, 3);
    const put = putUpload({ ...nats }, "paused", source);
    push(bytes.subarray(0, UPLOAD_CHUNK_BYTES * 2 + 10));
    const nuid = await announced;
    await eventually(async () => f.progress(nuid) === 2, "the two chunks stored read ahead");
    await new Promise((r) => setTimeout(r, 600)); // the follower stops waiting for more
    push(bytes.subarray(UPLOAD_CHUNK_BYTES * 2 + 10));
    end();
    const stored = await put;
    const r = recording(f);
    await expect(hashUpload(nats.js, nats.jsm, bucket, refOf(stored), { follower: r })).resolves.toEqual({ sha256Hex: sha(bytes), size: bytes.length, checked: null });
    expect(r.taken[0]).toMatchObject({ chunks: 2, size: UPLOAD_CHUNK_BYTES * 2 });
  });

  it("stops reading an upload whose put was aborted, and drops the head nobody takes", async () => {
    let now = 0;
    const f = startUploadFollower({ nc: nats.nc, jsm: nats.jsm, log, maxFollowing: 4, queue: "hashing", idleMs: 200, keepMs: 1000, now: () => now })!;
    followers.push(f);
    const announced = nextAnnouncement("aborted");
    await nats.nc.flush();
    const { source, push } = feed();
    const put = putUpload({ ...nats }, "aborted", source);
    push(bytesOf(UPLOAD_CHUNK_BYTES * 2 + 1, 4));
    const nuid = await announced;
    await new Promise((r) => setTimeout(r, 100));
    source.destroy();
    await expect(put).rejects.toMatchObject({ code: "ERR_STREAM_PREMATURE_CLOSE" });
    expect(await storedChunks(nuid)).toBe(0); // the put deleted what it stored: no job, nothing to hash
    await new Promise((r) => setTimeout(r, 400)); // the follower gives up waiting for chunks
    // Past keepMs, the next announcement drops the stale head.
    now = 5000;
    f.follow("another", "another");
    expect(await f.take(nuid)).toBeNull();
    expect(await f.take("another")).toBeNull(); // nothing stored under it: followed, nothing read
  });

  it("drops a head that does not add up and reads the stored chunks from the first, with the ordinary answer", async () => {
    const bytes = bytesOf(UPLOAD_CHUNK_BYTES * 2 + 77, 5);
    const stored = await putUpload(nats, "wrong-head", Readable.from([bytes]));
    const f = follower();
    f.follow(stored.nuid, stored.name);
    const taken: ReadHead[] = [];
    const spoiling = {
      take: async (nuid: string) => {
        const head = await f.take(nuid);
        head?.hash.update("bytes the store does not hold"); // as a follower that read something else would have
        if (head) taken.push(head);
        return head;
      },
    };
    await eventually(async () => f.progress(stored.nuid) === 3, "the upload read ahead");
    await expect(hashUpload(nats.js, nats.jsm, bucket, refOf(stored), { follower: spoiling })).resolves.toEqual({ sha256Hex: sha(bytes), size: bytes.length, checked: null });
    expect(taken).toHaveLength(1);
  });

  // What the stream holds is not what was sent: the second chunk replaced by other bytes (stored
  // after the others), or the third chunk gone.
  const spoilers = {
    "a corrupt chunk": async (seqs: number[], nuid: string) => {
      await deleteMessage(nats.jsm, seqs[1]!);
      await nats.js.publish(chunkSubject(nuid), Buffer.alloc(UPLOAD_CHUNK_BYTES, 0xee));
      return 3;
    },
    "a truncated upload (a chunk gone)": async (seqs: number[]) => {
      await deleteMessage(nats.jsm, seqs[2]!);
      return 2;
    },
  };
  it.each(Object.keys(spoilers))("reports %s as E_UPLOAD_CORRUPT whether or not it was followed", async (label) => {
    const bytes = bytesOf(UPLOAD_CHUNK_BYTES * 3, label.length);
    for (const followed of [true, false]) {
      const name = `spoiled-${label.length}-${followed}`;
      const stored = await putUpload(nats, name, Readable.from([bytes]));
      const left = await spoilers[label as keyof typeof spoilers](await seqsOf(nats.jsm, chunkSubject(stored.nuid)), stored.nuid);
      const f = follower();
      if (followed) f.follow(stored.nuid, name);
      if (followed) await eventually(async () => f.progress(stored.nuid) === left, "the upload read ahead");
      await expect(hashUpload(nats.js, nats.jsm, bucket, refOf(stored), { follower: f }), name).rejects.toMatchObject({ name: "TransientError", code: "E_UPLOAD_CORRUPT" });
    }
  });

  it("reads only its upload's chunks, in order, when another upload's chunks sit between them in the stream", async () => {
    const a = bytesOf(UPLOAD_CHUNK_BYTES * 4 + 11, 10);
    const b = bytesOf(UPLOAD_CHUNK_BYTES * 4 + 22, 11);
    const piecesOf = (bytes: Buffer) => Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536));
    // Stored side by side: their chunk publishes interleave in the stream.
    const [sa, sb] = await Promise.all([putUpload(nats, "side-a", Readable.from(piecesOf(a))), putUpload(nats, "side-b", Readable.from(piecesOf(b)))]);
    const seqsA = await seqsOf(nats.jsm, chunkSubject(sa.nuid));
    const seqsB = await seqsOf(nats.jsm, chunkSubject(sb.nuid));
    expect(seqsA.some((s) => s > Math.min(...seqsB) && s < Math.max(...seqsB)), "interleaved").toBe(true);
    const f = follower();
    f.follow(sa.nuid, "side-a");
    await eventually(async () => f.progress(sa.nuid) === 5, "side-a read ahead");
    const r = recording(f);
    await expect(hashUpload(nats.js, nats.jsm, bucket, refOf(sa), { follower: r })).resolves.toEqual({ sha256Hex: sha(a), size: a.length, checked: null });
    expect(r.taken[0]).toMatchObject({ chunks: 5, size: a.length, lastSeq: seqsA.at(-1) });
  });

  it("follows at most maxFollowing uploads at once; the others are read the ordinary way", async () => {
    const f = createUploadFollower({ jsm: nats.jsm, log, maxFollowing: 1 });
    followers.push(f);
    const one = await putUpload(nats, "one", Readable.from([bytesOf(UPLOAD_CHUNK_BYTES + 1, 8)]));
    const two = await putUpload(nats, "two", Readable.from([bytesOf(UPLOAD_CHUNK_BYTES + 2, 9)]));
    f.follow(one.nuid, "one");
    f.follow(two.nuid, "two"); // refused: one is being read (it waits for more chunks)
    await eventually(async () => f.progress(one.nuid) === 2, "the first upload read ahead");
    expect(await f.take(two.nuid)).toBeNull();
    // Taking a head stops its reader at once, not when it gives up waiting for chunks (10 s).
    const started = Date.now();
    expect(await f.take(one.nuid)).toMatchObject({ chunks: 2 });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

/** The nuid the next announcement of upload `name` carries. */
function nextAnnouncement(name: string): Promise<string> {
  return new Promise((resolve) => {
    const sub = nats.nc.subscribe(UPLOAD_STARTED_SUBJECT, {
      callback: (_err, msg) => {
        const started = msg.json<{ name: string; nuid: string }>();
        if (started.name !== name) return;
        sub.unsubscribe();
        resolve(started.nuid);
      },
    });
  });
}
