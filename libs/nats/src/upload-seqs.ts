import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { TransientError } from "@veriflow/errors";
import { isNotFound } from "./nats-errors.js";
import { STREAM, chunkSubject, deleteMessage, metaSubject } from "./upload-stream.js";

/**
 * Reading and deleting a one-chunk upload by the stream sequences its request names
 * (`entrySeq`, `chunkSeq`: the gateway's writer learned them from its publish acks), instead
 * of looking its messages up by subject: one direct get for the bytes and none to delete.
 * A sequence is never trusted blindly: the message found there must be on this upload's own
 * subject before it is hashed or deleted, so a wrong one (a bug, a forged request) reads and
 * deletes nothing of another upload.
 */

/** An upload's messages, each read at its sequence and found on this upload's subject: chunk first, entry last. */
export interface CheckedUpload {
  name: string;
  nuid: string;
  seqs: readonly number[];
}

/** What hashUpload needs to read a one-chunk upload by sequence. */
export interface OneChunkRef {
  name: string;
  nuid: string;
  entrySeq?: number | null;
  chunkSeq?: number | null;
}

/**
 * The bytes of a one-chunk upload, and its messages' sequences when the request named them and
 * both checked out (null otherwise: deleting it then looks them up). With both sequences, the
 * chunk and the entry are read at once (one round trip): the chunk must be on the nuid's
 * subject, the entry on the name's and name that nuid. A chunk sequence that holds anything
 * else (or nothing) falls back to the lookup by subject, which is the truth. Null when the
 * chunk is nowhere, not even on the stream's leader (the upload was deleted).
 */
export async function readOneChunk(jsm: JetStreamManager, ref: OneChunkRef): Promise<{ data: Uint8Array; checked: CheckedUpload | null } | null> {
  const get = (query: { seq: number } | { last_by_subj: string }) =>
    jsm.direct.getMessage(STREAM, query).catch((err: unknown) => {
      if (isNotFound(err, "message")) return null;
      throw new TransientError("E_UPLOAD_UNAVAILABLE", `could not read upload ${ref.name}`, { cause: err });
    });
  if (isSeq(ref.chunkSeq) && isSeq(ref.entrySeq)) {
    const [chunk, entry] = await Promise.all([get({ seq: ref.chunkSeq }), get({ seq: ref.entrySeq })]);
    if (chunk !== null && chunk.subject === chunkSubject(ref.nuid)) {
      const checked = entry !== null && isEntryOf(entry, ref) ? { name: ref.name, nuid: ref.nuid, seqs: [chunk.seq, entry.seq] } : null;
      return { data: chunk.data, checked };
    }
  }
  const chunk = (await get({ last_by_subj: chunkSubject(ref.nuid) })) ?? (await lastChunkOnLeader(jsm, ref));
  return chunk === null ? null : { data: chunk.data, checked: null };
}

/**
 * A direct get may be answered by any replica of a replicated bucket, one that has not yet
 * received a chunk the gateway has just stored, and a consumer made during a leader change may
 * see none of an upload's chunks: before "not found" fails the job for good, the stream's leader
 * (which acknowledged the chunk's write) is asked for the upload's last chunk. Only on a miss, so rare.
 */
export function lastChunkOnLeader(jsm: JetStreamManager, ref: Pick<OneChunkRef, "name" | "nuid">): Promise<StoredMsg | null> {
  return jsm.streams.getMessage(STREAM, { last_by_subj: chunkSubject(ref.nuid) }).catch((err: unknown) => {
    if (isNotFound(err, "message")) return null;
    throw new TransientError("E_UPLOAD_UNAVAILABLE", `could not read upload ${ref.name}`, { cause: err });
  });
}

/**
 * Deletes an upload's checked messages by their sequences: no lookups, two requests for one
 * chunk. The chunk goes first: a failure between the two leaves the entry, by which the
 * uploads sweep finds what is left (a chunk without its entry would wait for the max age).
 * Sequences are never reused in a stream, so one checked a moment ago still names this
 * upload's message, or nothing (deleting that is a no-op).
 */
export async function deleteCheckedUpload(jsm: JetStreamManager, checked: CheckedUpload): Promise<void> {
  for (const seq of checked.seqs) await deleteMessage(jsm, seq);
}

const isSeq = (n: number | null | undefined): n is number => Number.isSafeInteger(n) && n! > 0;

/** The message is the upload's entry: on its name's subject, naming its chunks, not a delete's tombstone. */
function isEntryOf(m: StoredMsg, ref: OneChunkRef): boolean {
  if (m.subject !== metaSubject(ref.name)) return false;
  try {
    const info = m.json<{ nuid?: unknown; deleted?: unknown }>();
    return info.nuid === ref.nuid && info.deleted !== true;
  } catch {
    return false;
  }
}
