import type { JetStreamManager } from "@nats-io/jetstream";
import { STREAM_NAME, decodeEvent, subjectFor, type AnyEnvelope, type EventType } from "@veriflow/events";
import { isNotFound } from "./nats-errors.js";

/**
 * The last event of a type for one job, read straight from the stream by subject.
 * Lets a reader answer for an event the projection has not applied yet. Null when the
 * stream holds no such event; a missing stream (or NATS down) is an error, not "no event".
 */
export async function findLastEvent(jsm: JetStreamManager, type: EventType, jobId: string): Promise<AnyEnvelope | null> {
  try {
    const stored = await jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor(type, jobId) });
    return stored ? decodeEvent(stored.data) : null;
  } catch (err) {
    if (isNotFound(err, "message")) return null;
    throw err;
  }
}

/** True when the events stream answers: what `/stats` reports as `available`. */
export async function isStreamAvailable(jsm: JetStreamManager): Promise<boolean> {
  try {
    await jsm.streams.info(STREAM_NAME);
    return true;
  } catch {
    return false;
  }
}
