import { jetstreamManager, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { STREAM_NAME, decodeEvent, subjectFor, subjectsOfJob, type AnyEnvelope, type EventType, type JobPriority } from "@veriflow/events";
import { isNotFound } from "./nats-errors.js";

/**
 * The last message on a job's subject for one event type, as stored (not decoded): its
 * bytes and its stream sequence. Null when the stream holds none; a missing stream (or
 * NATS down) is an error, not "no message". A job's priority picks its subject (topology.ts);
 * without it, the interactive subject is read, then the bulk one (a direct get by subject
 * takes no wildcard): a job's events of one type are all on one of them.
 */
export async function findLastMessage(jsm: JetStreamManager, type: EventType, jobId: string, priority?: JobPriority): Promise<StoredMsg | null> {
  for (const subject of priority ? [subjectFor(type, jobId, priority)] : subjectsOfJob(type, jobId)) {
    const found = await lastOn(jsm, subject);
    if (found) return found;
  }
  return null;
}

async function lastOn(jsm: JetStreamManager, subject: string): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subject });
  } catch (err) {
    if (isNotFound(err, "message")) return null;
    throw err;
  }
}

/**
 * The last event of a type for one job, read straight from the stream by subject.
 * Lets a reader answer for an event the projection has not applied yet. Null when the
 * stream holds no such event; bytes that are not an event throw EventDecodeError.
 */
export async function findLastEvent(jsm: JetStreamManager, type: EventType, jobId: string, priority?: JobPriority): Promise<AnyEnvelope | null> {
  const stored = await findLastMessage(jsm, type, jobId, priority);
  return stored ? decodeEvent(stored.data) : null;
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

/**
 * isStreamAvailable on its own manager whose requests wait at most `timeoutMs`: a stream
 * without a leader does not answer at all, and a probe waiting the client's 10 s for that
 * would keep the gateway on its fallback up to 10 s after a new leader answers.
 */
export async function createStreamProbe(nc: NatsConnection, timeoutMs: number): Promise<() => Promise<boolean>> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
  return () => isStreamAvailable(jsm);
}
