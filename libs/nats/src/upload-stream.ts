import type { JetStreamManager } from "@nats-io/jetstream";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { UPLOADS_BUCKET } from "@veriflow/events";
import { TransientError } from "@veriflow/errors";
import { isNotFound } from "./nats-errors.js";

/**
 * The uploads bucket's stream, as the object store lays it out: chunks on
 * `$O.<bucket>.C.<nuid>`, one entry per object on `$O.<bucket>.M.<base64url(name)>`. What
 * writing, reading and deleting uploads (upload-writer.ts, uploads.ts) share; not exported
 * from the package.
 */
export const STREAM = `OBJ_${UPLOADS_BUCKET}`;
export const ENTRY_SUBJECTS = `$O.${UPLOADS_BUCKET}.M.>`;
export const chunkSubject = (nuid: string) => `$O.${UPLOADS_BUCKET}.C.${nuid}`;
export const metaSubject = (name: string) => `$O.${UPLOADS_BUCKET}.M.${Base64UrlPaddedCodec.encode(name)}`;

/** The longest a read of a stored upload waits for its next chunk before it gives up (a TransientError). */
export const UPLOAD_READ_STALL_MS = 10_000;

/** `promise`, or the error `onTimeout` makes if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Deletes one message of the stream, never a purge: nats-server before 2.9.15 does not take a
 * subject-filtered purge's bytes off the account's storage use (nats-io/nats-server#3876).
 * Deleting a message that is gone is a no-op.
 */
export const deleteMessage = (jsm: JetStreamManager, seq: number) =>
  jsm.streams.deleteMessage(STREAM, seq, false).then(
    () => {},
    (err: unknown) => {
      if (!isNotFound(err, "message")) throw err;
    },
  );

export const lastOnSubject = (jsm: JetStreamManager, subject: string) =>
  jsm.streams.getMessage(STREAM, { last_by_subj: subject }).catch((err: unknown) => {
    if (isNotFound(err, "stream") || isNotFound(err, "message")) return null;
    throw err;
  });

export async function lastSeqOf(jsm: JetStreamManager, subject: string): Promise<number[]> {
  const last = await lastOnSubject(jsm, subject);
  return last === null ? [] : [last.seq];
}

/** The sequences of every message on a subject, read with a headers-only consumer (no chunk's bytes cross the wire). */
export async function seqsOf(jsm: JetStreamManager, subject: string): Promise<number[]> {
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

export async function messagesOn(jsm: JetStreamManager, subject: string): Promise<number> {
  const info = await jsm.streams.info(STREAM, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}
