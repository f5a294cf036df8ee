import { jobPriorities, type JobRequest, priorityOf, type EventType, type JobPriority } from "./catalog.js";
import { pipeline, stageConsuming, stageSpec, type ObserverName, type StageName } from "./pipeline.js";

/**
 * Where events live. One subject per event: `veriflow.<type>.<jobId>`, so a consumer
 * filters one event type with a single wildcard (nats-server 2.9 allows one filter
 * subject per consumer), and the status service can fetch one job's request by subject.
 *
 * Bulk work that a stage consumes lives one token further: `veriflow.<type>.bulk.<jobId>`
 * (PRIORITY_TOKEN), read by its own durable consumer per stage (`<durable>-bulk`). Interactive
 * work keeps the subject every event had before priorities, so the consumers created then,
 * and the events already in a stream, stay as they are; `veriflow.<type>.*` matches one token
 * after the type and never a bulk subject. Terminal events (no stage consumes them) always
 * use the plain subject: whoever waits for a job's ending knows only its id.
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

/**
 * Verdicts kept for answering again ("answer from what is known"): one KnownVerdict per
 * (registry, content hash, tenant, job type, manifest URI); registry-watch writes them as jobs
 * complete and purges a content hash's when its entry changes, the manifest stage reads them.
 */
export const KNOWN_VERDICTS_BUCKET = "veriflow-known-verdicts";

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

/** The subject token of bulk work: never a job id (job ids are UUIDs). */
export const BULK_TOKEN = "bulk";

/** Whether events of `type` carry their priority in the subject: those a stage consumes. */
export function isPrioritised(type: EventType): boolean {
  return stageConsuming(type) !== undefined;
}

/** Where an event of a job belongs; `priority` matters only for a type a stage consumes. */
export function subjectFor(type: EventType, jobId: string, priority: JobPriority = "interactive"): string {
  return priority === "bulk" && isPrioritised(type) ? `${SUBJECT_ROOT}.${type}.${BULK_TOKEN}.${jobId}` : `${SUBJECT_ROOT}.${type}.${jobId}`;
}

/** Where an event belongs: its job's subject, with the priority its request carries. */
export function subjectOf(event: { type: EventType; correlationId: string; data: object }): string {
  const request = "request" in event.data ? (event.data.request as Pick<JobRequest, "priority">) : null;
  return subjectFor(event.type, event.correlationId, request ? priorityOf(request) : "interactive");
}

/** Every subject of one type and class (a single wildcard, as nats-server 2.9 filters take). */
export function subjectsOf(type: EventType, priority: JobPriority = "interactive"): string {
  return subjectFor(type, "*", priority);
}

/** Every subject a job's event of `type` may be on, its most likely first (lookups by job id). */
export function subjectsOfJob(type: EventType, jobId: string): string[] {
  return isPrioritised(type) ? jobPriorities.map((p) => subjectFor(type, jobId, p)) : [subjectFor(type, jobId)];
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

/**
 * A stage's durable pull consumer of one class: only the event type it consumes, of that
 * priority. The interactive one keeps the stage's durable name (created before priorities).
 */
export function stageConsumer(stage: StageName, priority: JobPriority = "interactive"): ConsumerSpec {
  const spec = stageSpec(stage);
  return {
    durable: stageDurable(stage, priority),
    filterSubject: subjectsOf(spec.consumes, priority),
    description: priority === "interactive" ? spec.description : `${spec.description} (${priority} work)`,
  };
}

/** The durable of a stage's consumer of one class: `<durable>` for interactive work, `<durable>-bulk`. */
export function stageDurable(stage: StageName, priority: JobPriority = "interactive"): string {
  const durable = stageSpec(stage).durable;
  return priority === "interactive" ? durable : `${durable}-${priority}`;
}

/** Every durable a stage reads through, interactive first. */
export function stageDurables(stage: StageName): string[] {
  return jobPriorities.map((p) => stageDurable(stage, p));
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
