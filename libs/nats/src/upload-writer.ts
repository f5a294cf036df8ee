import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { JetStreamApiError, JsHeaders, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { headers as natsHeaders, nuid, type NatsConnection } from "@nats-io/transport-node";
import { UPLOADS_BUCKET } from "@veriflow/events";
import { NO_HOLD, type Hold } from "./hold.js";
import { announceUpload } from "./upload-follower.js";
import { chunkSubject, deleteMessage, lastOnSubject, metaSubject, seqsOf } from "./upload-stream.js";

/**
 * Chunk size of stored uploads: fewer, larger messages stream faster. Below nats-server's
 * default max_payload (1 MiB); a server configured with less refuses every chunk.
 */
export const UPLOAD_CHUNK_BYTES = 512 * 1024;

/**
 * How many chunk publishes wait for their acks at once. One at a time, each chunk waits a
 * round trip and the server's write before the next is sent: with 1 ms between gateway and
 * NATS that capped a put near 50 MB/s, four in flight reached about 180 (bench/upload-put.ts;
 * on bare loopback the CPU is the limit either way). Memory stays bounded per upload: this
 * many chunks, plus the one filling (2.5 MiB).
 */
const PUBLISHES_IN_FLIGHT = 4;

/** What writing an upload needs: publishes, and message deletes when a put fails. */
export interface UploadWriter {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** With it, an upload of more than one chunk is announced as it starts, so hashing reads it as it is stored (upload-follower.ts). */
  nc?: NatsConnection;
  /** Asked before each chunk is stored: a promise to wait for, or null to go on (the gateway's bulk uploads yield to interactive ones this way). */
  pace?: () => Promise<void> | null;
}

/** A stored upload as its entry in the bucket describes it (the object store's ObjectInfo fields hashing needs). */
export interface StoredUpload {
  name: string;
  size: number;
  nuid: string;
  chunks: number;
  /** `SHA-256=` + padded base64url of the bytes' SHA-256, as the object store writes it. */
  digest: string;
  mtime: string;
  /** The entry's stream sequence. */
  revision: number;
  /** The stream sequence of the chunk of a one-chunk upload (its ack's); null with more chunks or none. */
  chunkSeq: number | null;
}

/** What the entry keeps of the file besides its bytes (as object headers). */
export interface UploadMeta {
  fileName?: string | null;
  contentType?: string | null;
}

/**
 * Streams a Node readable into the uploads bucket, chunk by chunk with back-pressure, in the
 * object store's own format (bucket.info(), list() and hashUpload read it as they read what
 * ObjectStore.put() writes). Written here rather than by put(), because put() cleans up a
 * failed upload with a subject-filtered purge, whose bytes nats-server before 2.9.15 keeps
 * counted against max_file_store (nats-io/nats-server#3876): every refused or aborted upload
 * would leak its partial bytes until JetStream refused every write. This writer knows each
 * chunk's sequence from its ack and deletes exactly those messages.
 *
 * An upload's name is written once (it is its job's id): a put under a name the bucket
 * already holds is refused when its entry is written (a wrong-last-sequence error), where
 * put() would replace the entry and purge the old chunks. A put past the bucket's max_bytes
 * or JetStream's storage fails with the server's error (isStorageFullError).
 *
 * With a `hold`, the steps that can be repeated are retried while NATS does not answer (a
 * stream without a leader): the chunk of a one-chunk upload (shorter than a chunk: its
 * bytes are all in memory) and the entry, each with a Nats-Msg-Id so a repeat of a publish
 * that was stored unanswered is dropped by the stream. The chunks of a larger upload are
 * not: several are in flight, and one repeated after its successor was stored would be out
 * of order; such a put fails and the client sends it again.
 */
export async function putUpload(
  nats: UploadWriter,
  name: string,
  source: Readable,
  meta: UploadMeta = {},
  hold: Hold = NO_HOLD,
): Promise<StoredUpload> {
  const id = nuid.next();
  const chunks = createChunkPublisher(nats.js, chunkSubject(id));
  let entryUnanswered = false;
  // A source that fails between two reads (while acks are awaited) keeps its error for the next
  // read (readPiece); without a listener meanwhile, the error would be thrown as uncaught.
  const keptForNextRead = () => {};
  source.on("error", keptForNextRead);
  try {
    const hash = createHash("sha256");
    let size = 0;
    let count = 0;
    for await (const chunk of chunksOf(source, UPLOAD_CHUNK_BYTES)) {
      const turn = nats.pace?.();
      if (turn) await turn;
      hash.update(chunk);
      size += chunk.length;
      // A second chunk: a large upload, worth reading while it is stored.
      if (++count === 2 && nats.nc) announceUpload(nats.nc, { name, nuid: id });
      // Shorter than a chunk: the source's end. The first chunk too: the upload's only one.
      if (count === 1 && chunk.length < UPLOAD_CHUNK_BYTES) await chunks.publishHeld(chunk, hold);
      else await chunks.publish(chunk);
    }
    const entry = entryFor(name, meta, { nuid: id, size, chunks: await chunks.flush(), sha256: hash.digest() });
    const rollup = natsHeaders();
    rollup.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
    const ack = await hold.run("upload entry", (attempt) =>
      nats.js
        .publish(metaSubject(name), JSON.stringify(entry), { headers: rollup, expect: { lastSubjectSequence: 0 }, msgID: `${id}.entry`, timeout: attempt.timeoutMs })
        .catch((err: unknown) => {
          entryUnanswered ||= !(err instanceof JetStreamApiError);
          throw err;
        }),
    );
    return { name, size, nuid: id, chunks: entry.chunks, digest: entry.digest, mtime: entry.mtime, revision: ack.seq, chunkSeq: chunks.onlySeq() };
  } catch (err) {
    // Best effort: what cannot be deleted now (NATS went away) leaves with the bucket's max age.
    await chunks.discard(nats.jsm).catch(() => {});
    if (entryUnanswered) await deleteEntryOf(nats.jsm, name, id).catch(() => {});
    throw err;
  } finally {
    source.off("error", keptForNextRead);
  }
}

/**
 * An object's entry: the fields ObjectStore.put() writes, in its order (nats.js 3.x objectstore.js `_put`).
 * Written for a one-chunk upload too, though hashing finds its chunk by sequence: the entry is
 * how an upload is found by its name (the uploads sweep walks entries to delete what was left
 * behind, a retry asks isUploadStored, bucket.info() reads it for older requests), and it ties
 * the chunk to its job. Hashing reads it beside the chunk, in the same round trip.
 */
function entryFor(name: string, meta: UploadMeta, stored: { nuid: string; size: number; chunks: number; sha256: Uint8Array }) {
  const h = natsHeaders();
  if (meta.fileName) h.set("x-file-name", encodeURIComponent(meta.fileName));
  if (meta.contentType) h.set("content-type", meta.contentType);
  return {
    bucket: UPLOADS_BUCKET,
    nuid: stored.nuid,
    size: stored.size,
    chunks: stored.chunks,
    name,
    description: "",
    options: { max_chunk_size: UPLOAD_CHUNK_BYTES },
    headers: Object.fromEntries(h.keys().map((k) => [k, h.values(k)])),
    mtime: new Date().toISOString(),
    digest: `SHA-256=${Base64UrlPaddedCodec.encode(stored.sha256)}`,
    deleted: false,
  };
}

/** An entry that may have been stored without an answer: deleted if it is this put's (names its chunks). */
async function deleteEntryOf(jsm: JetStreamManager, name: string, id: string): Promise<void> {
  const m = await lastOnSubject(jsm, metaSubject(name));
  if (m !== null && m.json<{ nuid?: unknown }>().nuid === id) await deleteMessage(jsm, m.seq);
}

/**
 * Chunk publishes with up to PUBLISHES_IN_FLIGHT awaiting their acks. One connection keeps
 * them in order, and each is sent once (nats.js retries none by default), so the stream
 * holds the chunks in the order they were read. The first failure stops the put.
 */
function createChunkPublisher(js: JetStreamClient, subject: string) {
  const stored: number[] = [];
  const inFlight: Promise<void>[] = [];
  let failure: { err: unknown } | undefined;
  // A publish that failed without the server's answer (a timeout, a lost connection) may have stored its chunk.
  let unanswered = false;
  const check = () => {
    if (failure) throw failure.err;
  };
  return {
    /** Sends a chunk; waits only while the window is full. */
    async publish(chunk: Uint8Array): Promise<void> {
      check();
      const sent = js.publish(subject, chunk).then(
        (ack) => void stored.push(ack.seq),
        (err: unknown) => {
          failure ??= { err };
          unanswered ||= !(err instanceof JetStreamApiError);
        },
      );
      inFlight.push(sent);
      if (inFlight.length >= PUBLISHES_IN_FLIGHT) await inFlight.shift();
      check();
    },
    /** Sends the upload's only chunk, retried within `hold` (nothing else in flight: no order to keep). */
    async publishHeld(chunk: Uint8Array, hold: Hold): Promise<void> {
      check();
      try {
        const ack = await hold.run("upload chunk", (attempt) =>
          js.publish(subject, chunk, { msgID: `${subject}.1`, timeout: attempt.timeoutMs }).catch((err: unknown) => {
            unanswered ||= !(err instanceof JetStreamApiError);
            throw err;
          }),
        );
        stored.push(ack.seq);
      } catch (err) {
        failure ??= { err };
        throw err;
      }
    },
    /** Waits for every ack; the number of chunks stored. */
    async flush(): Promise<number> {
      await Promise.all(inFlight.splice(0));
      check();
      return stored.length;
    },
    /** The sequence of the one chunk stored, after flush(); null with more or none. */
    onlySeq: (): number | null => (stored.length === 1 ? stored[0]! : null),
    /** Deletes every chunk stored, message by message, never with a purge (see putUpload). */
    async discard(jsm: JetStreamManager): Promise<void> {
      await Promise.all(inFlight.splice(0));
      for (const seq of stored) await deleteMessage(jsm, seq);
      if (unanswered) for (const seq of await seqsOf(jsm, subject)) await deleteMessage(jsm, seq);
    },
  };
}

/**
 * The source's bytes in chunks of `size` (the last one shorter), read as they are asked for.
 * The pieces read are gathered and joined once a chunk is full or the source ends, into a
 * buffer of exactly the bytes it holds: most uploads are far smaller than a chunk, and a
 * full-size buffer per upload (512 KiB for a 1 KiB file) made the gateway's garbage
 * collector its largest single cost under load (bench --cpu-prof: 9-13 %).
 */
async function* chunksOf(source: Readable, size: number): AsyncGenerator<Buffer> {
  let pieces: Buffer[] = [];
  let filled = 0;
  const join = () => (pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, filled));
  for (let piece = await readPiece(source); piece !== null; piece = await readPiece(source)) {
    for (let at = 0; at < piece.length; ) {
      const take = Math.min(size - filled, piece.length - at);
      pieces.push(take === piece.length ? piece : piece.subarray(at, at + take));
      filled += take;
      at += take;
      if (filled === size) {
        yield join();
        pieces = [];
        filled = 0;
      }
    }
  }
  if (filled > 0) yield join();
}

/**
 * What the source has buffered, waiting for more when it has nothing; null at its end. Not
 * the stream's async iterator, which destroys the source when the put stops early: the
 * caller owns it (multer, the gRPC handler) and answers the client. A source that failed or
 * closed before this read is answered at once, never waited on.
 */
function readPiece(source: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const settle = (): boolean => {
      // An object-mode source (Readable.from) may hold Uint8Arrays: viewed as Buffers, not copied.
      const p = source.read() as Uint8Array | null;
      if (p !== null) resolve(Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
      else if (source.errored) reject(source.errored);
      else if (source.readableEnded) resolve(null);
      // Node's code for a stream that closed without ending, as stream.finished reports it (the gateway answers E_UPLOAD_ABORTED).
      else if (source.destroyed) reject(Object.assign(new Error("the upload's source closed before its end"), { code: "ERR_STREAM_PREMATURE_CLOSE" }));
      else return false;
      return true;
    };
    if (settle()) return;
    const onEvent = () => {
      if (settle()) for (const e of SOURCE_EVENTS) source.off(e, onEvent);
    };
    for (const e of SOURCE_EVENTS) source.on(e, onEvent);
  });
}

const SOURCE_EVENTS = ["readable", "end", "error", "close"] as const;
