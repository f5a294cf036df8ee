import { createHash, type Hash } from "node:crypto";
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { TransientError } from "@veriflow/errors";
import { STREAM, chunkSubject, within } from "./upload-stream.js";

/**
 * How far a read of an upload's chunks got: the SHA-256 of the first `chunks` chunks (their
 * `size` bytes) and the stream sequence of the last one read. A read can go on from a head
 * (readChunks), so the hashing stage finishes what an early reader (upload-follower.ts) began.
 */
export interface ReadHead {
  hash: Hash;
  size: number;
  chunks: number;
  /** The stream sequence of the last chunk read; 0 before the first. */
  lastSeq: number;
}

export const newReadHead = (): ReadHead => ({ hash: createHash("sha256"), size: 0, chunks: 0, lastSeq: 0 });

/**
 * Reads the chunks of upload `nuid` stored after `head.lastSeq` (all of them from a new head),
 * in stream order, into `head`, through an ordered push consumer with flow control (it works on
 * nats-server 2.9, as the object store's own get() does), and stops at the last one stored. A
 * read that waits longer than `stallMs` for a chunk, or whose consumer cannot be made or read,
 * fails with E_UPLOAD_UNAVAILABLE (transient); the head keeps every chunk read until then.
 */
export async function readChunks(js: JetStreamClient, name: string, nuid: string, head: ReadHead, stallMs: number): Promise<void> {
  const unavailable = (cause?: unknown) => new TransientError("E_UPLOAD_UNAVAILABLE", `could not read upload ${name}`, { cause });
  const from = head.lastSeq > 0 ? { opt_start_seq: head.lastSeq + 1 } : {};
  const consumer = await js.consumers
    .getPushConsumer(STREAM, { filter_subject: chunkSubject(nuid), idle_heartbeat: 30_000_000_000, flow_control: true, ...from } as never)
    .catch((err: unknown) => {
      throw unavailable(err);
    });
  if ((await consumer.info(true)).num_pending === 0) return;
  const messages = await consumer.consume().catch((err: unknown) => {
    throw unavailable(err);
  });
  const chunkStream = messages[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await within(chunkStream.next(), stallMs, () =>
        new TransientError("E_UPLOAD_UNAVAILABLE", `reading upload ${name} stalled: no chunk for ${stallMs} ms after ${head.size} bytes`),
      ).catch((err: unknown) => {
        throw err instanceof TransientError ? err : unavailable(err);
      });
      if (next.done) return;
      addChunk(head, next.value);
      if (next.value.info.pending === 0) return;
    }
  } finally {
    // As a for-await's break would: end the iteration, then close the consumer. Not awaited:
    // after a stall the server may never answer, and nothing here depends on it.
    void chunkStream.return?.()?.catch(() => {});
    void messages.close().catch(() => {});
  }
}

/** A chunk read: hashed into the head, which moves past it. */
function addChunk(head: ReadHead, m: { data: Uint8Array; seq: number }): void {
  head.hash.update(m.data);
  head.size += m.data.length;
  head.chunks += 1;
  head.lastSeq = m.seq;
}

/** What an upload's entry says of its chunks: how many, how many bytes, and their digest (`SHA-256=` + base64url). */
export interface ExpectedChunks {
  chunks: number;
  size: number;
  digest: string;
}

/**
 * Reads all the chunks of a stored upload into a head. When `early` is given (the reading a
 * follower did as the upload was stored), it goes on from there and keeps the result only if
 * it adds up (the chunk count, the size and the digest); otherwise, or without one, it reads
 * every chunk from the first. A head of no chunks means none is stored (the upload is gone).
 */
export async function readStoredChunks(
  js: JetStreamClient,
  name: string,
  nuid: string,
  expected: ExpectedChunks,
  opts: { stallMs: number; early?: ReadHead | null },
): Promise<ReadHead> {
  const read = (head: ReadHead) => readChunks(js, name, nuid, head, opts.stallMs);
  if (opts.early) {
    const head = opts.early;
    try {
      if (head.chunks < expected.chunks) await read(head);
      if (head.chunks === expected.chunks && head.size === expected.size && matchesDigest(head.hash.copy().digest(), expected.digest)) return head;
    } catch {
      /* whatever went wrong, the read from the first chunk below decides */
    }
  }
  const head = newReadHead();
  await read(head);
  return head;
}

/** Whether a SHA-256 is the one a stored digest (`SHA-256=` + padded base64url) names. */
export function matchesDigest(sum: Buffer, digest: string): boolean {
  return digest.startsWith("SHA-256=") && sum.toString("base64url") === digest.slice(8).replace(/=+$/, "");
}

/** How many direct gets a follower keeps in flight, and how long it waits to look again once it has caught up. */
const FOLLOW_WINDOW = 4;
const FOLLOW_POLL_MS = 50;

/**
 * Reads the chunks of `nuid` stored after `head.lastSeq` into `head` with direct gets, as they
 * are stored, until `stopped` or nothing new comes for `idleMs`. Each get asks for the first
 * chunk at or after a sequence (next_by_subj); FOLLOW_WINDOW of them go out for consecutive
 * sequences from the next one wanted, and their answers are taken in order: an answer below
 * the next sequence wanted repeats one already read (another upload's message sat between),
 * and since every get starts at or below the next sequence wanted, the first new answer is the
 * next chunk. A "not found" means it caught up: the answers after it are dropped (a chunk
 * stored meanwhile could sit below them) and it looks again from the next sequence.
 *
 * Why not the ordered push consumer hashUpload reads with: following the tail of the stream
 * with one made nats-server 2.9.10 store the upload 3-4 times slower (512 MiB put: 6.9 s
 * unfollowed, 27.8 s followed by an ordered consumer, 8.4 s followed by direct gets; this box,
 * bench notes in the commit), presumably from the consumer's per-message deliveries and flow
 * control contending with the writes to the same message block.
 */
export async function followChunks(jsm: JetStreamManager, nuid: string, head: ReadHead, opts: { idleMs: number; stopped: Promise<void> }): Promise<void> {
  let stop = false;
  let wake = () => {};
  void opts.stopped.then(() => {
    stop = true;
    wake();
  });
  const subject = chunkSubject(nuid);
  const get = (seq: number) => jsm.direct.getMessage(STREAM, { seq, next_by_subj: subject });
  let lastProgress = Date.now();
  while (!stop) {
    const from = head.lastSeq + 1;
    const window: Promise<StoredMsg | null>[] = [];
    for (let i = 0; i < FOLLOW_WINDOW; i++) window.push(get(from + i));
    // Whatever is dropped below may still fail: nobody's error.
    for (const w of window) w.catch(() => {});
    let caughtUp = false;
    for (const answer of window) {
      const m = await answer;
      if (stop) return;
      if (m === null) {
        caughtUp = true;
        break;
      }
      if (m.seq <= head.lastSeq) continue;
      addChunk(head, m);
      lastProgress = Date.now();
    }
    if (!caughtUp) continue;
    if (Date.now() - lastProgress >= opts.idleMs) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FOLLOW_POLL_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
