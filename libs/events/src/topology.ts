import type { EventType } from "./catalog.js";
import { pipeline, stageSpec, type ObserverName, type StageName } from "./pipeline.js";

/**
 * Where events live. One subject per event: `veriflow.<type>.<jobId>`, so a consumer
 * filters one event type with a single wildcard (nats-server 2.9 allows one filter
 * subject per consumer), and the status service can fetch one job's request by subject.
 */
export const SUBJECT_ROOT = "veriflow";
export const STREAM_NAME = "VERIFLOW";
export const STREAM_SUBJECTS = [`${SUBJECT_ROOT}.>`];

/** Messages that could not be decoded are kept here, with the reason, for inspection. */
export const DEAD_LETTER_STREAM = "VERIFLOW_DLQ";
export const DEAD_LETTER_ROOT = "veriflow-dlq";

/**
 * Where each durable consumer's position is checkpointed (the last message per subject is
 * kept): a consumer found missing when a service starts is recreated from there instead of
 * from the stream's start.
 */
export const POSITIONS_STREAM = "VERIFLOW_POSITIONS";
export const POSITIONS_ROOT = "veriflow-positions";

/**
 * Core-NATS notifications between status replicas that a job's row changed:
 * `veriflow-status.changed.<jobId>` (outside `veriflow.>`, so the events stream keeps none).
 */
export const JOB_CHANGED_SUBJECT = "veriflow-status.changed";

/**
 * Core-NATS notices from the gateway that an upload of more than one chunk is being stored,
 * `{ name, nuid }`, taken by one replica of the stage that reads uploads, which starts hashing
 * its chunks as they are stored (libs/nats upload-follower.ts). A hint: one lost costs time,
 * never a job. Outside `veriflow.>`, so the events stream keeps none.
 */
export const UPLOAD_STARTED_SUBJECT = "veriflow-uploads.started";

/** Uploaded files wait here until hashed; the bucket's max age removes leftovers. */
export const UPLOADS_BUCKET = "veriflow-uploads";

/** Idempotency-Key records (the gateway's): one per key, kept for the bucket's max age. */
export const IDEMPOTENCY_BUCKET = "veriflow-idempotency";

/** Rate-limit counters (the gateway's): one per API key or client address and budget, for the current window. */
export const RATE_LIMITS_BUCKET = "veriflow-rate-limits";

/** The duplicate window must outlast a crash-and-redeliver cycle; 2 minutes at least. */
export const MIN_DUPLICATE_WINDOW_MS = 2 * 60_000;

/** What a subject token may not hold: `.` separates tokens, `*` and `>` are wildcards, whitespace ends the subject. */
const NOT_IN_A_SUBJECT_TOKEN = /[.*>\s]/;

/**
 * Whether a value can stand as one token of a subject (a job id, an upload's nuid): with a
 * `.` or a wildcard it would name other subjects than its own, and a read, a purge or a
 * publish built on it would reach them.
 */
export function isSubjectToken(value: string): boolean {
  return value !== "" && !NOT_IN_A_SUBJECT_TOKEN.test(value);
}

export function subjectFor(type: EventType, jobId: string): string {
  return `${SUBJECT_ROOT}.${type}.${jobId}`;
}

export function subjectsOf(type: EventType): string {
  return `${SUBJECT_ROOT}.${type}.*`;
}

export function deadLetterSubject(consumer: string): string {
  return `${DEAD_LETTER_ROOT}.${consumer}`;
}

export function positionSubject(consumer: string): string {
  return `${POSITIONS_ROOT}.${consumer}`;
}

export interface ConsumerSpec {
  durable: string;
  filterSubject: string;
  description: string;
}

/** A stage's durable pull consumer: only the event type it consumes. */
export function stageConsumer(stage: StageName): ConsumerSpec {
  const spec = stageSpec(stage);
  return { durable: spec.durable, filterSubject: subjectsOf(spec.consumes), description: spec.description };
}

/** An observer's durable pull consumer: every event on the stream. */
export function observerConsumer(service: ObserverName): ConsumerSpec {
  const spec = pipeline.observers.find((o) => o.service === service)!;
  return { durable: spec.durable, filterSubject: STREAM_SUBJECTS[0]!, description: spec.description };
}

/**
 * Registry changes (registry-watch): `veriflow-registry.changed.<registry address, lower-case>`,
 * one message per log, on a stream of their own. They are no job's events (no job id, several
 * jobs may follow from one), so they stay outside `veriflow.>`, which the observers read whole.
 */
export const REGISTRY_STREAM = "VERIFLOW_REGISTRY";
export const REGISTRY_ROOT = "veriflow-registry";

export function registryChangedSubject(registryAddress: string): string {
  return `${REGISTRY_ROOT}.changed.${registryAddress.toLowerCase()}`;
}
