import { createHash, type Hash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
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

export interface ReadChunksOptions {
  /** Stop once the chunks stored so far are read (the upload is complete), instead of waiting for more. */
  toStoredEnd: boolean;
  /** The longest to wait for the next chunk. */
  idleMs: number;
  /** What waiting longer than idleMs is: an error (thrown), or the end of this read (the head is kept). */
  onIdle: "throw" | "stop";
  /** Resolves when the read should stop after the chunk in hand (the head stays consistent). */
  stopped?: Promise<void>;
  /** The upload's name, for errors. */
  name: string;
}

/** Why a read ended: every stored chunk read, nothing came for idleMs (onIdle "stop"), or `stopped`. */
export type ReadEnd = "stored-end" | "idle" | "stopped";

/**
 * Reads the chunks of upload `nuid` stored after `head.lastSeq`, in stream order, into `head`,
 * through an ordered push consumer with flow control (it works on nats-server 2.9, as the
 * object store's own get() does). Resolves with why it ended; the head holds every chunk read.
 * Fails with E_UPLOAD_UNAVAILABLE (transient) when the consumer cannot be made or read.
 */
export async function readChunks(js: JetStreamClient, nuid: string, head: ReadHead, opts: ReadChunksOptions): Promise<ReadEnd> {
  const unavailable = (cause?: unknown) => new TransientError("E_UPLOAD_UNAVAILABLE", `could not read upload ${opts.name}`, { cause });
  const from = head.lastSeq > 0 ? { opt_start_seq: head.lastSeq + 1 } : {};
  const consumer = await js.consumers
    .getPushConsumer(STREAM, { filter_subject: chunkSubject(nuid), idle_heartbeat: 30_000_000_000, flow_control: true, ...from } as never)
    .catch((err: unknown) => {
      throw unavailable(err);
    });
  if (opts.toStoredEnd && (await consumer.info(true)).num_pending === 0) return "stored-end";
  const messages = await consumer.consume().catch((err: unknown) => {
    throw unavailable(err);
  });
  const chunkStream = messages[Symbol.asyncIterator]();
  // Stopping closes the messages, which ends the iteration. Not a race of each read against
  // `stopped`: every race would leave a reaction on it holding its chunk until it settles.
  let stopRequested = false;
  void opts.stopped?.then(() => {
    stopRequested = true;
    void messages.close().catch(() => {});
  });
  const idle = () =>
    new TransientError("E_UPLOAD_UNAVAILABLE", `reading upload ${opts.name} stalled: no chunk for ${opts.idleMs} ms after ${head.size} bytes`);
  try {
    for (;;) {
      const next = await within(chunkStream.next(), opts.idleMs, idle).catch((err: unknown) => {
        if (opts.onIdle === "stop" && err instanceof TransientError) return "idle" as const;
        throw err instanceof TransientError ? err : unavailable(err);
      });
      if (stopRequested) return "stopped"; // a chunk delivered meanwhile is left out: the head stays as it was
      if (next === "idle") return next;
      if (next.done) return "stored-end";
      const m = next.value;
      head.hash.update(m.data);
      head.size += m.data.length;
      head.chunks += 1;
      head.lastSeq = m.seq;
      if (opts.toStoredEnd && m.info.pending === 0) return "stored-end";
    }
  } finally {
    // As a for-await's break would: end the iteration, then close the consumer. Not awaited:
    // after a stall the server may never answer, and nothing here depends on it.
    void chunkStream.return?.()?.catch(() => {});
    void messages.close().catch(() => {});
  }
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
  const read = (head: ReadHead) => readChunks(js, nuid, head, { toStoredEnd: true, idleMs: opts.stallMs, onIdle: "throw", name });
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
