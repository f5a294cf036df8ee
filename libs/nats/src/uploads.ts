import { createHash } from "node:crypto";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Base64UrlPaddedCodec, type ObjectStore } from "@nats-io/obj";
import { isSubjectToken } from "@veriflow/events";
import { PermanentError, TransientError } from "@veriflow/errors";
import { readStoredChunks } from "./upload-chunks.js";
import type { UploadFollower } from "./upload-follower.js";
import {
  ENTRY_SUBJECTS,
  STREAM,
  UPLOAD_READ_STALL_MS,
  chunkSubject,
  deleteMessage,
  lastOnSubject,
  lastSeqOf,
  metaSubject,
  seqsOf,
} from "./upload-stream.js";
import { lastChunkOnLeader, readOneChunk, type CheckedUpload } from "./upload-seqs.js";

export type { ObjectStore };
export { UPLOAD_READ_STALL_MS };
export { UPLOAD_CHUNK_BYTES, putUpload, type StoredUpload, type UploadMeta, type UploadWriter } from "./upload-writer.js";

export interface StreamedUpload {
  /** "0x" + lowercase hex SHA-256 of the bytes read. */
  sha256Hex: string;
  size: number;
  /** A one-chunk upload read by the sequences its request names, both checked: deleteCheckedUpload deletes it without lookups. */
  checked: CheckedUpload | null;
}

/** What the gateway tells the hashing stage about a stored upload (see verification.requested). */
export interface UploadRef {
  name: string;
  size: number;
  nuid: string | null;
  chunks: number | null;
  digest: string | null;
  /** Where its entry and (one chunk) its chunk are in the stream; absent or null in older events. */
  entrySeq?: number | null;
  chunkSeq?: number | null;
}

/**
 * Reads an upload's chunks off the bucket's stream and hashes them once, in order, with
 * back-pressure. A single-chunk upload (most of them) is one direct get, by the sequences
 * its request names when it names them (upload-seqs.ts); larger ones
 * stream through the same ordered push consumer the object store's own get() uses (it
 * works on nats-server 2.9), going on from what a follower read while the upload was being
 * stored (upload-follower.ts) when there is one. The store's digest is compared at the end, so a corrupt
 * or truncated object is caught. Every read has a deadline: the direct get the JetStream
 * API timeout, each further chunk `stallMs` (a stalled read is E_UPLOAD_UNAVAILABLE, retried).
 */
export async function hashUpload(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: ObjectStore,
  ref: UploadRef,
  opts: { stallMs?: number; follower?: Pick<UploadFollower, "take"> | null } = {},
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
  let hash = createHash("sha256");
  let size = 0;
  let checked: CheckedUpload | null = null;
  if (chunks === 1) {
    // The sequences only when the location is the request's own (not looked up in the bucket).
    const read = await readOneChunk(jsm, nuid === ref.nuid ? { ...ref, nuid } : { name: ref.name, nuid });
    if (read === null) throw notFound(ref.name);
    hash.update(read.data);
    size = read.data.length;
    checked = read.checked;
  } else if (chunks > 1) {
    const early = (await opts.follower?.take(nuid)) ?? null;
    const head = await readStoredChunks(js, ref.name, nuid, { chunks, size: expectedSize, digest }, { stallMs, early });
    // The consumer counts the chunks there are: none means the upload was deleted (its bytes purged), or a stale read.
    if (head.chunks === 0) throw await noChunkRead(jsm, ref.name, nuid);
    ({ hash, size } = head);
  }
  const sum = hash.digest();
  if (digest.startsWith("SHA-256=") && sum.toString("base64url") !== digest.slice(8).replace(/=+$/, "")) {
    throw new TransientError("E_UPLOAD_CORRUPT", `upload ${ref.name} does not match its stored digest`);
  }
  if (size !== expectedSize) throw new TransientError("E_UPLOAD_CORRUPT", `upload ${ref.name}: read ${size} of ${expectedSize} bytes`);
  return { sha256Hex: `0x${sum.toString("hex")}`, size, checked };
}

/**
 * Why a read found none of an upload's chunks: it was deleted (permanent), unless the stream's
 * leader still has them: the consumer was made on a replica behind it or during an election
 * (the scale test saw it right after the leader's node was killed), a read to try again.
 */
export async function noChunkRead(jsm: JetStreamManager, name: string, nuid: string): Promise<PermanentError | TransientError> {
  if ((await lastChunkOnLeader(jsm, { name, nuid })) === null) return notFound(name);
  return new TransientError("E_UPLOAD_UNAVAILABLE", `upload ${name}: no chunk read, but the stream's leader has them`);
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

/** The chunks' id an upload's entry names; null when it has no entry. */
async function storedNuid(jsm: JetStreamManager, name: string): Promise<string | null> {
  const meta = await lastOnSubject(jsm, metaSubject(name));
  const nuid = meta?.json<{ nuid?: unknown }>().nuid;
  return typeof nuid === "string" && isSubjectToken(nuid) ? nuid : null;
}

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
