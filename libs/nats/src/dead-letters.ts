import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { DEAD_LETTER_ROOT, DEAD_LETTER_STREAM, STREAM_NAME, SUBJECT_ROOT, deadLetterSubject } from "@veriflow/events";
import { DEAD_LETTER_HEADERS, REPLAY_FOR_HEADER, REPLAY_OF_HEADER } from "./dead-letter.js";
import { isNotFound } from "./nats-errors.js";

/**
 * Reading and replaying what the consume loops set aside in the dead-letter stream
 * (dead-letter.ts writes them): one message per dead letter, on `veriflow-dlq.<consumer>`,
 * holding the original bytes, with the original subject and sequence and the reason in
 * headers. A dead letter's id is its sequence in that stream.
 */
export interface DeadLetter {
  /** Its sequence in VERIFLOW_DLQ: the id the API uses. */
  seq: number;
  /** The durable consumer that set it aside (status-projection, hashing, …). */
  consumer: string;
  /** Where the message was published: a subject of the events stream. */
  subject: string;
  /** Its sequence in the events stream, when known. */
  streamSeq: number | null;
  reason: string;
  deadLetteredAt: Date;
  /** Bytes of the original message. */
  size: number;
  /** The original message's headers (those the dead-letter step keeps), without the dead-letter ones. */
  headers: Record<string, string>;
  data: Uint8Array;
}

export interface DeadLetterPage {
  deadLetters: DeadLetter[];
  /** The `after` of the next page; null on the last one. */
  next: number | null;
}

export interface DeadLetterCounts {
  total: number;
  byConsumer: Record<string, number>;
}

const FILTER_ALL = `${DEAD_LETTER_ROOT}.>`;

function toDeadLetter(m: StoredMsg): DeadLetter {
  const h = m.header;
  const get = (name: string) => h?.get(name) ?? "";
  const headers: Record<string, string> = {};
  for (const [name, values] of h ?? []) {
    if (DEAD_LETTER_HEADERS.includes(name.toLowerCase()) || name.toLowerCase().startsWith("nats-")) continue;
    headers[name] = values.join(", ");
  }
  const streamSeq = Number(get("veriflow-dlq-stream-seq"));
  return {
    seq: m.seq,
    consumer: get("veriflow-dlq-consumer") || m.subject.slice(DEAD_LETTER_ROOT.length + 1),
    subject: get("veriflow-dlq-subject"),
    streamSeq: Number.isSafeInteger(streamSeq) && streamSeq > 0 ? streamSeq : null,
    reason: get("veriflow-dlq-reason"),
    deadLetteredAt: m.time,
    size: m.data.length,
    headers,
    data: m.data,
  };
}

/** The first dead letter at or after `seq` (of one consumer, or any); null past the end. */
async function nextDeadLetter(jsm: JetStreamManager, seq: number, consumer?: string): Promise<StoredMsg | null> {
  const filter = consumer ? deadLetterSubject(consumer) : FILTER_ALL;
  try {
    // nats-server 2.9 answers `next_by_subj` on STREAM.MSG.GET; nats.js types only seq and last_by_subj there.
    return await jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq, next_by_subj: filter } as never);
  } catch (err) {
    if (isNotFound(err, "message") || isNotFound(err, "stream")) return null;
    throw err;
  }
}

/** Dead letters oldest first, after sequence `after` (0: from the start), at most `limit`. */
export async function listDeadLetters(jsm: JetStreamManager, opts: { consumer?: string; after?: number; limit: number }): Promise<DeadLetterPage> {
  const deadLetters: DeadLetter[] = [];
  let seq = (opts.after ?? 0) + 1;
  while (deadLetters.length < opts.limit) {
    const m = await nextDeadLetter(jsm, seq, opts.consumer);
    if (!m) return { deadLetters, next: null };
    deadLetters.push(toDeadLetter(m));
    seq = m.seq + 1;
  }
  // A full page: there is a next one if anything follows.
  const more = await nextDeadLetter(jsm, seq, opts.consumer);
  return { deadLetters, next: more ? deadLetters.at(-1)!.seq : null };
}

/** How many dead letters there are, in all and per consumer. */
export async function countDeadLetters(jsm: JetStreamManager): Promise<DeadLetterCounts> {
  try {
    const info = await jsm.streams.info(DEAD_LETTER_STREAM, { subjects_filter: FILTER_ALL });
    const byConsumer: Record<string, number> = {};
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) byConsumer[subject.slice(DEAD_LETTER_ROOT.length + 1)] = n;
    return { total: info.state.messages, byConsumer };
  } catch (err) {
    if (isNotFound(err, "stream")) return { total: 0, byConsumer: {} };
    throw err;
  }
}

/** One dead letter by its sequence; null when there is none (never was, replayed, or aged out). */
export async function getDeadLetter(jsm: JetStreamManager, seq: number): Promise<DeadLetter | null> {
  const m = await nextDeadLetter(jsm, seq);
  return m && m.seq === seq ? toDeadLetter(m) : null;
}

/** A dead letter that cannot go back: its subject is not one of the events stream's. */
export class NotReplayableError extends Error {
  override name = "NotReplayableError";
}

export interface Replayed {
  deadLetter: DeadLetter;
  /** Its new sequence in the events stream. */
  streamSeq: number;
  /** The stream already had this replay (a second request within the duplicate window). */
  duplicate: boolean;
}

/**
 * Puts a dead letter back where it was published, for the consumer that set it aside
 * only: the copy carries `veriflow-replay-for: <consumer>`, which every other consume loop
 * acknowledges and skips (their copy of the original went through already). Its
 * `Nats-Msg-Id` is derived from the dead letter's sequence, so two replays of one dead letter
 * within the duplicate window publish it once, and the original event's own id (which the
 * window may still hold) does not make the stream drop it. Then the dead letter is removed
 * from the dead-letter stream; if the consumer fails on it again, it comes back as a new one.
 * Null when there is no such dead letter.
 */
export async function replayDeadLetter(js: JetStreamClient, jsm: JetStreamManager, seq: number): Promise<Replayed | null> {
  const deadLetter = await getDeadLetter(jsm, seq);
  if (!deadLetter) return null;
  if (!deadLetter.subject.startsWith(`${SUBJECT_ROOT}.`)) {
    throw new NotReplayableError(`dead letter ${seq} came from "${deadLetter.subject || "an unknown subject"}", not from the ${STREAM_NAME} stream`);
  }
  const h = natsHeaders();
  for (const [name, value] of Object.entries(deadLetter.headers)) h.set(name, value);
  h.set(REPLAY_FOR_HEADER, deadLetter.consumer);
  h.set(REPLAY_OF_HEADER, String(seq));
  const ack = await js.publish(deadLetter.subject, deadLetter.data, { headers: h, msgID: `${DEAD_LETTER_STREAM}:${seq}:replay` });
  await jsm.streams.deleteMessage(DEAD_LETTER_STREAM, seq, false).catch((err: unknown) => {
    // Removed meanwhile (a concurrent replay): the replay stands.
    if (!isNotFound(err, "message")) throw err;
  });
  return { deadLetter, streamSeq: ack.seq, duplicate: ack.duplicate };
}
