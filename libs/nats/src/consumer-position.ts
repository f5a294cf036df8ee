import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { POSITIONS_STREAM, STREAM_NAME, positionSubject } from "@veriflow/events";
import { isNotFound } from "./nats-errors.js";

/** Where a durable consumer stood: every message of `stream` at or below `ackFloor` was acknowledged. */
export interface ConsumerPosition {
  stream: string;
  /** The stream's creation time: a stream deleted and created again has new sequences. */
  streamCreated: string;
  ackFloor: number;
  savedAt: string;
}

/** Checkpoints a consumer's position (the positions stream keeps the last one per consumer). */
export async function saveConsumerPosition(js: JetStreamClient, durable: string, position: Omit<ConsumerPosition, "savedAt">): Promise<void> {
  await js.publish(positionSubject(durable), JSON.stringify({ ...position, savedAt: new Date().toISOString() }));
}

/** The last checkpoint of a consumer; null when there is none (or it is unreadable). */
export async function loadConsumerPosition(jsm: JetStreamManager, durable: string): Promise<ConsumerPosition | null> {
  try {
    const stored = await jsm.streams.getMessage(POSITIONS_STREAM, { last_by_subj: positionSubject(durable) });
    const p = stored?.json<Partial<ConsumerPosition>>();
    return p && typeof p.ackFloor === "number" && typeof p.streamCreated === "string" && typeof p.stream === "string" ? (p as ConsumerPosition) : null;
  } catch (err) {
    if (isNotFound(err, "message") || isNotFound(err, "stream") || err instanceof SyntaxError) return null;
    throw err;
  }
}

/**
 * Where a consumer created now should start: after its checkpoint, if the events stream is
 * the one the checkpoint was taken on; otherwise (no checkpoint, a new stream) undefined,
 * the stream's start.
 */
export async function checkpointedStart(jsm: JetStreamManager, durable: string): Promise<number | undefined> {
  const position = await loadConsumerPosition(jsm, durable);
  if (!position || position.stream !== STREAM_NAME) return undefined;
  const stream = await jsm.streams.info(STREAM_NAME);
  return stream.created === position.streamCreated ? position.ackFloor + 1 : undefined;
}
