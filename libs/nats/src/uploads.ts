import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Base64UrlPaddedCodec, type ObjectInfo, type ObjectStore } from "@nats-io/obj";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { UPLOADS_BUCKET, isSubjectToken } from "@veriflow/events";
import { PermanentError, TransientError } from "@veriflow/errors";
import { isNotFound } from "./nats-errors.js";

export type { ObjectStore };

/** Chunk size of stored uploads: fewer, larger messages stream faster (max_payload is 1 MiB by default). */
export const UPLOAD_CHUNK_BYTES = 512 * 1024;

/** Streams a Node readable into the uploads bucket without holding the file in memory. */
export async function putUpload(
  bucket: ObjectStore,
  name: string,
  source: Readable,
  meta: { fileName?: string | null; contentType?: string | null } = {},
): Promise<ObjectInfo> {
  const web = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Pull one chunk at a time: the object store awaits each publish, so memory stays flat.
      const chunk = await readChunk(source);
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
    cancel() {
      source.destroy();
    },
  });
  const h = natsHeaders();
  if (meta.fileName) h.set("x-file-name", encodeURIComponent(meta.fileName));
  if (meta.contentType) h.set("content-type", meta.contentType);
  return bucket.put({ name, options: { max_chunk_size: UPLOAD_CHUNK_BYTES }, headers: h }, web);
}

/** Node's code for a stream that closed without ending (what stream.finished reports). */
const prematureClose = () => Object.assign(new Error("the upload stream closed before its end"), { code: "ERR_STREAM_PREMATURE_CLOSE" });

function readChunk(source: Readable): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) return resolve(chunk);
    if (source.readableEnded) return resolve(null);
    if (source.destroyed) return reject(source.errored ?? prematureClose());
    const cleanup = () => {
      source.off("readable", onReadable);
      source.off("end", onEnd);
      source.off("error", onError);
      source.off("close", onClose);
    };
    const onReadable = () => {
      const c = source.read() as Buffer | null;
      if (c !== null) {
        cleanup();
        resolve(c);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    // A source destroyed without an error never ends: without this the put would wait forever.
    const onClose = () => {
      cleanup();
      reject(source.errored ?? prematureClose());
    };
    source.on("readable", onReadable);
    source.on("end", onEnd);
    source.on("error", onError);
    source.on("close", onClose);
  });
}

export interface StreamedUpload {
  /** "0x" + lowercase hex SHA-256 of the bytes read. */
  sha256Hex: string;
  size: number;
}

/** What the gateway tells the hashing stage about a stored upload (see verification.requested). */
export interface UploadRef {
  name: string;
  size: number;
  nuid: string | null;
  chunks: number | null;
  digest: string | null;
}

/** The uploads bucket's stream: chunks on `$O.<bucket>.C.<nuid>`, one entry per object on `$O.<bucket>.M.<name>`. */
const STREAM = `OBJ_${UPLOADS_BUCKET}`;
const ENTRY_SUBJECTS = `$O.${UPLOADS_BUCKET}.M.>`;
const chunkSubject = (nuid: string) => `$O.${UPLOADS_BUCKET}.C.${nuid}`;
const metaSubject = (name: string) => `$O.${UPLOADS_BUCKET}.M.${Base64UrlPaddedCodec.encode(name)}`;

/** The longest a read of a stored upload waits for its next chunk before it gives up (a TransientError). */
export const UPLOAD_READ_STALL_MS = 10_000;

/**
 * Reads an upload's chunks off the bucket's stream and hashes them once, in order, with
 * back-pressure. A single-chunk upload (most of them) is one direct get; larger ones
 * stream through the same ordered push consumer the object store's own get() uses (it
 * works on nats-server 2.9). The store's digest is compared at the end, so a corrupt
 * or truncated object is caught. Every read has a deadline: the direct get the JetStream
 * API timeout, each further chunk `stallMs` (a stalled read is E_UPLOAD_UNAVAILABLE, retried).
 */
export async function hashUpload(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: ObjectStore,
  ref: UploadRef,
  opts: { stallMs?: number } = {},
): Promise<StreamedUpload> {
  const stallMs = opts.stallMs ?? UPLOAD_READ_STALL_MS;
  let { nuid, chunks, digest, size: expectedSize } = ref;
  // The store makes nuids of letters and digits; a `>` or `*` here would read another upload's chunks.
  if (nuid !== null && !isSubjectToken(nuid)) throw new PermanentError("E_UPLOAD_NOT_FOUND", `upload ${ref.name}: its nuid ${JSON.stringify(nuid.slice(0, 64))} names no stored object`);
  if (nuid === null || chunks === null || digest === null) {
    // Older request events don't carry the object's location: ask the bucket.
    const info = await bucket.info(ref.name).catch((err: unknown) => {
      throw new TransientError("E_UPLOAD_UNAVAILABLE", `could not read upload ${ref.name}`, { cause: err });
    });
    if (info === null || info.deleted) throw notFound(ref.name);
    ({ nuid, chunks, digest } = info);
    expectedSize = info.size;
  }
  const hash = createHash("sha256");
  let size = 0;
  if (chunks === 1) {
    const m = await jsm.direct.getMessage(STREAM, { last_by_subj: chunkSubject(nuid) }).catch((err: unknown) => {
      if (isNotFound(err, "message")) return null;
      throw new TransientError("E_UPLOAD_UNAVAILABLE", `could not read upload ${ref.name}`, { cause: err });
    });
    if (m === null) throw notFound(ref.name);
    hash.update(m.data);
    size = m.data.length;
  } else if (chunks > 1) {
    const unavailable = (cause?: unknown) => new TransientError("E_UPLOAD_UNAVAILABLE", `could not read upload ${ref.name}`, { cause });
    const consumer = await js.consumers
      .getPushConsumer(STREAM, { filter_subject: chunkSubject(nuid), idle_heartbeat: 30_000_000_000, flow_control: true } as never)
      .catch((err: unknown) => {
        throw unavailable(err);
      });
    // The consumer counts the chunks there are: none means the upload was deleted (its bytes purged).
    if ((await consumer.info(true)).num_pending === 0) throw notFound(ref.name);
    const messages = await consumer.consume().catch((err: unknown) => {
      throw unavailable(err);
    });
    const chunkStream = messages[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await within(chunkStream.next(), stallMs, () =>
          new TransientError("E_UPLOAD_UNAVAILABLE", `reading upload ${ref.name} stalled: no chunk for ${stallMs} ms after ${size} bytes`),
        ).catch((err: unknown) => {
          throw err instanceof TransientError ? err : unavailable(err);
        });
        if (next.done) break;
        hash.update(next.value.data);
        size += next.value.data.length;
        if (next.value.info.pending === 0) break;
      }
    } finally {
      // As a for-await's break would: end the iteration, then close the consumer. Not awaited:
      // after a stall the server may never answer, and nothing here depends on it.
      void chunkStream.return?.()?.catch(() => {});
      void messages.close().catch(() => {});
    }
  }
  const sum = hash.digest();
  if (digest.startsWith("SHA-256=") && sum.toString("base64url") !== digest.slice(8).replace(/=+$/, "")) {
    throw new TransientError("E_UPLOAD_CORRUPT", `upload ${ref.name} does not match its stored digest`);
  }
  if (size !== expectedSize) throw new TransientError("E_UPLOAD_CORRUPT", `upload ${ref.name}: read ${size} of ${expectedSize} bytes`);
  return { sha256Hex: `0x${sum.toString("hex")}`, size };
}

/** `promise`, or the error `onTimeout` makes if it has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function notFound(name: string): PermanentError {
  return new PermanentError("E_UPLOAD_NOT_FOUND", `upload ${name} is not in the bucket (expired or removed)`);
}

/**
 * Removes an upload's bytes and its entry, message by message, never writing: it also
 * works on a full store, where the object store's own delete (which first writes a
 * "deleted" entry) fails. Not with purges: nats-server before 2.9.15 does not take a
 * subject-filtered purge's bytes off the account's storage use (nats-io/nats-server#3876),
 * so every purged upload would count against max_file_store until the server restarts,
 * and the store would end up refusing every write. Removing an upload that is gone is a no-op.
 */
export async function deleteUpload(jsm: JetStreamManager, ref: Pick<UploadRef, "name" | "nuid"> & { chunks?: number | null }): Promise<void> {
  // A nuid that is not one subject token (a wildcard) would delete every upload's chunks: the
  // upload's own entry names its nuid instead.
  const own = ref.nuid !== null && isSubjectToken(ref.nuid);
  const nuid = own ? ref.nuid : await storedNuid(jsm, ref.name);
  if (nuid !== null) {
    const seqs = own && ref.chunks === 1 ? await lastSeqOf(jsm, chunkSubject(nuid)) : await seqsOf(jsm, chunkSubject(nuid));
    for (const seq of seqs) await deleteMessage(jsm, seq);
  }
  for (const seq of await lastSeqOf(jsm, metaSubject(ref.name))) await deleteMessage(jsm, seq);
}

const deleteMessage = (jsm: JetStreamManager, seq: number) =>
  jsm.streams.deleteMessage(STREAM, seq, false).then(
    () => {},
    (err: unknown) => {
      if (!isNotFound(err, "message")) throw err;
    },
  );

async function lastSeqOf(jsm: JetStreamManager, subject: string): Promise<number[]> {
  const last = await lastOnSubject(jsm, subject);
  return last === null ? [] : [last.seq];
}

/** The sequences of every message on a subject, read with a headers-only consumer (no chunk's bytes cross the wire). */
async function seqsOf(jsm: JetStreamManager, subject: string): Promise<number[]> {
  // An ordered push consumer, as hashUpload reads chunks: nats-server 2.9 has no filter_subjects.
  const consumer = await jsm.jetstream().consumers.getPushConsumer(STREAM, { filter_subject: subject, headers_only: true } as never);
  const seqs: number[] = [];
  if ((await consumer.info(true)).num_pending === 0) return seqs;
  const messages = await consumer.consume();
  const iterator = messages[Symbol.asyncIterator]();
  const stalled = () => new TransientError("E_UPLOAD_UNAVAILABLE", `listing ${subject} stalled`);
  const deadline = Date.now() + UPLOAD_READ_STALL_MS;
  try {
    for (;;) {
      // Someone else (another sweeping replica) may delete what was pending: when nothing comes
      // for a second, ask the stream whether anything is left on the subject at all.
      const next = await within(iterator.next(), 1000, stalled).catch(async (err: unknown) => {
        if (Date.now() < deadline && (await messagesOn(jsm, subject)) > 0) return null;
        if (Date.now() >= deadline) throw err;
        return { done: true as const, value: undefined };
      });
      if (next === null) continue;
      if (next.done) break;
      seqs.push(next.value.seq);
      if (next.value.info.pending === 0) break;
    }
  } finally {
    void iterator.return?.()?.catch(() => {});
    void messages.close().catch(() => {});
  }
  return seqs;
}

async function messagesOn(jsm: JetStreamManager, subject: string): Promise<number> {
  const info = await jsm.streams.info(STREAM, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

/** The chunks' id an upload's entry names; null when it has no entry. */
async function storedNuid(jsm: JetStreamManager, name: string): Promise<string | null> {
  const meta = await lastOnSubject(jsm, metaSubject(name));
  const nuid = meta?.json<{ nuid?: unknown }>().nuid;
  return typeof nuid === "string" && isSubjectToken(nuid) ? nuid : null;
}

const lastOnSubject = (jsm: JetStreamManager, subject: string) =>
  jsm.streams.getMessage(STREAM, { last_by_subj: subject }).catch((err: unknown) => {
    if (isNotFound(err, "stream") || isNotFound(err, "message")) return null;
    throw err;
  });

/**
 * Whether an upload is still stored (its entry, not deleted, and its chunks): a retry of a
 * job that failed at hashing needs it. False once the hashing stage deleted it or the
 * bucket's max age removed it; an error (NATS down) is not "gone".
 */
export async function isUploadStored(jsm: JetStreamManager, ref: Pick<UploadRef, "name">): Promise<boolean> {
  const meta = await lastOnSubject(jsm, metaSubject(ref.name));
  if (meta === null) return false;
  const info = meta.json<{ deleted?: boolean; nuid?: string; chunks?: number }>();
  if (info.deleted || typeof info.nuid !== "string") return false;
  return !info.chunks || (await lastOnSubject(jsm, chunkSubject(info.nuid))) !== null;
}

/** An object's entry in the uploads bucket, as a reader walking the bucket sees it. */
export interface UploadEntry {
  /** Its place in the bucket's stream: entries come in the order their uploads finished. */
  seq: number;
  name: string;
  nuid: string | null;
  /** A delete's tombstone (the object store's own delete leaves one): no bytes behind it. */
  deleted: boolean;
  /** When the upload finished (the server's clock). */
  storedAt: Date;
}

/**
 * The first entry of the uploads bucket at or after stream sequence `seq`, or null past the
 * last: one direct get, so walking the bucket holds no consumer and reads only as far as
 * the walker wants.
 */
export async function nextUploadEntry(jsm: JetStreamManager, seq: number): Promise<UploadEntry | null> {
  const m = await jsm.direct.getMessage(STREAM, { seq, next_by_subj: ENTRY_SUBJECTS });
  if (m === null) return null;
  let info: { name?: unknown; nuid?: unknown; deleted?: unknown } = {};
  try {
    info = m.json();
  } catch {
    /* an entry that is not JSON: named by its subject below, with no bytes known */
  }
  const name = typeof info.name === "string" ? info.name : (Base64UrlPaddedCodec.decode(m.subject.slice(ENTRY_SUBJECTS.length - 1)) as string);
  return { seq: m.seq, name, nuid: typeof info.nuid === "string" ? info.nuid : null, deleted: info.deleted === true, storedAt: m.time };
}
