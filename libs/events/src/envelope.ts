import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { batchEventTypes, eventSchemas, type BatchEventType, type EventData, type EventType, type JobEventType } from "./catalog.js";
import { isTerminalType } from "./pipeline.js";
import { DEFAULT_TENANT, TENANT_PATTERN } from "./tenant.js";
import { isSubjectToken, subjectOf } from "./topology.js";

/**
 * Every message on the stream is one envelope, JSON-encoded. `id` doubles as the
 * `Nats-Msg-Id`, so the stream's duplicate window drops a re-publish of the same event.
 */
export interface Envelope<T extends EventType = EventType> {
  id: string;
  type: T;
  occurredAt: string;
  /** The job id: every event of one job shares it. */
  correlationId: string;
  /** The id of the event that caused this one; null for a request. */
  causationId: string | null;
  /**
   * Which run of the job the event belongs to: absent (run 1) for everything a submission
   * causes; n + 1 on every event of the job's nth retry (`POST /api/verification-jobs/:jobId/retry`), so a reader tells
   * a retried job's events from the earlier run's. Added after v1: absent in older events.
   */
  run?: number;
  /**
   * The tenant the job belongs to (the one whose API key submitted it), on every event of the
   * job: the request gets it from the gateway and each event caused by another copies it.
   * Added after v1: absent in older events, which belong to `default` (tenantOf).
   */
  tenant?: string;
  /**
   * The job asked for a callback (its request names a `callbackUrl`): set on the request and
   * copied onto every event the job causes. A webhooks replica that handles the job's terminal
   * event before another replica has stored the request's URL knows, from this, to read the
   * request back rather than conclude there is no callback. Added after v1: absent otherwise.
   */
  callback?: true;
  data: EventData<T>;
}

export type AnyEnvelope = { [T in EventType]: Envelope<T> }[EventType];
/** An event of one job (`data.jobId`). */
export type AnyJobEnvelope = { [T in JobEventType]: Envelope<T> }[JobEventType];
/** An event of a batch (`data.batchId`). */
export type AnyBatchEnvelope = { [T in BatchEventType]: Envelope<T> }[BatchEventType];

export function isBatchEvent(event: AnyEnvelope): event is AnyBatchEnvelope {
  return (batchEventTypes as readonly string[]).includes(event.type);
}

/** What an event is about, its subject's last token and correlationId: the job id, or a batch event's batch id. */
export function keyOf(event: AnyEnvelope): string {
  return isBatchEvent(event) ? event.data.batchId : event.data.jobId;
}

/**
 * A batch's event: its id is derived from the batch id and the type, so each batch has at
 * most one `batch.submitted` and one `batch.completed` (a second publish, by a retry or
 * another status replica, is dropped by the duplicate window; readers key on the same id).
 */
export function createBatchEvent<T extends BatchEventType>(type: T, data: EventData<T>, tenant: string, now: Date = new Date()): Envelope<T> {
  if (!TENANT_PATTERN.test(tenant)) throw new RangeError(`"${tenant}" is not a tenant name`);
  const parsed = eventSchemas[type].parse(data) as EventData<T>;
  return {
    id: deriveEventId(`batch/${parsed.batchId}`, type),
    type,
    occurredAt: now.toISOString(),
    correlationId: parsed.batchId,
    causationId: null,
    tenant,
    data: parsed,
  };
}

/** The envelope's runtime check; `data` is checked per type (see `eventSchemas`). */
export const envelopeShape = z.object({
  id: z.string().min(1),
  type: z.string(),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1),
  causationId: z.string().min(1).nullable(),
  run: z.number().int().min(1).optional(),
  tenant: z.string().regex(TENANT_PATTERN, "a tenant name (lower-case letters, digits, hyphens)").optional(),
  callback: z.literal(true).optional(),
  data: z.unknown(),
});

/** Raised for bytes that are not a valid event: never worth a retry. */
export class EventDecodeError extends Error {
  override name = "EventDecodeError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Output ids are derived from the cause's id and the output's type, so a redelivered
 * input republishes identical ids and the stream drops the duplicates.
 */
export function deriveEventId(causeId: string, type: EventType): string {
  return uuidOf(`${causeId}\u0000${type}`);
}

/**
 * The one id every terminal event of a job's run carries, whichever it is (completed or
 * failed) and whichever stage emits it: derived from the job id (and the run, for a retry). The stream's duplicate
 * window keeps the first terminal event published for a job and drops any later one
 * (a give-up after a publish that timed out but was stored, a redelivery that ends
 * differently); the status projection and the webhooks service key on the same id, so
 * past the window the first recorded terminal event still wins.
 */
export function terminalEventId(jobId: string, run = 1): string {
  // Run 1 keeps the id it had before retries existed; a retry's outcome is a terminal event of its own.
  return uuidOf(run === 1 ? `${jobId}\u0000terminal` : `${jobId}\u0000terminal\u0000${run}`);
}

/**
 * The first event of each id, in order: what the stream's duplicate window keeps. For
 * readers that get a batch which may repeat an id (a redelivery, or a job's second
 * terminal event, which shares the first one's id).
 */
export function firstOfEachId<E extends { id: string }>(events: readonly E[]): E[] {
  const seen = new Map<string, E>();
  for (const e of events) if (!seen.has(e.id)) seen.set(e.id, e);
  return [...seen.values()];
}

/** A UUID-shaped digest of `text`: the form of every id this system derives. */
export function uuidOf(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  // Shaped as a UUID (version nibble 8: "custom") so logs and tools treat it as one.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A new job's first event: its id is the job id (the publish dedup key); the job belongs to `tenant`. */
export function createRequestEvent(
  jobId: string,
  data: EventData<"verification.requested">,
  now: Date = new Date(),
  tenant: string = DEFAULT_TENANT,
): Envelope<"verification.requested"> {
  if (!TENANT_PATTERN.test(tenant)) throw new RangeError(`"${tenant}" is not a tenant name`);
  const parsed = eventSchemas["verification.requested"].parse(data);
  return {
    id: jobId,
    type: "verification.requested",
    occurredAt: now.toISOString(),
    correlationId: jobId,
    causationId: null,
    tenant,
    ...callbackField(parsed.request.callbackUrl !== null ? true : undefined),
    data: parsed,
  };
}

/** The run an event belongs to (1 unless it is part of a retry). */
export function runOf(event: Pick<Envelope, "run">): number {
  return event.run ?? 1;
}

/** `{ run }` for an event of a retry, nothing for run 1 (whose events look as they always did). */
const runField = (run: number) => (run > 1 ? { run } : {});
/** The cause's `{ tenant }`, nothing when it has none (a job from before tenants stays without). */
const tenantField = (tenant: string | undefined) => (tenant === undefined ? {} : { tenant });
/** `{ callback: true }` for a job that asked for a callback, nothing otherwise. */
const callbackField = (callback: true | undefined) => (callback === true ? { callback } : {});

/** An event caused by another: same correlation, run and tenant, derived id (a terminal event: the job's terminal id for that run). */
export function createEvent<T extends EventType>(
  type: T,
  data: EventData<T>,
  cause: Pick<Envelope, "id" | "correlationId" | "run" | "tenant" | "callback">,
  now: Date = new Date(),
): Envelope<T> {
  return {
    id: isTerminalType(type) ? terminalEventId(cause.correlationId, runOf(cause)) : deriveEventId(cause.id, type),
    type,
    occurredAt: now.toISOString(),
    correlationId: cause.correlationId,
    causationId: cause.id,
    ...runField(runOf(cause)),
    ...tenantField(cause.tenant),
    ...callbackField(cause.callback),
    data: eventSchemas[type].parse(data) as EventData<T>,
  };
}

/**
 * Run `run` (2 or more) of a job, started again at the stage that gave up: `input` is the
 * event that stage was handling, re-issued with its type and data under a new id. The id
 * is derived from the job id and the run, not from `input`'s: the stream's duplicate window
 * would drop a re-publish of the same `Nats-Msg-Id`, and every event the retry causes gets
 * new ids in turn (ids derive from their cause). Two requests for the same run make the
 * same id, so the second is dropped. `causationId` is the failure being retried.
 */
export function createRetryEvent<T extends EventType>(input: Envelope<T>, run: number, failedEventId: string, now: Date = new Date()): Envelope<T> {
  if (!Number.isInteger(run) || run < 2) throw new RangeError(`a retry is run 2 or later, got ${run}`);
  return {
    id: deriveEventId(`${input.correlationId}/run/${run}`, input.type),
    type: input.type,
    occurredAt: now.toISOString(),
    correlationId: input.correlationId,
    causationId: failedEventId,
    run,
    ...tenantField(input.tenant),
    ...callbackField(input.callback),
    data: eventSchemas[input.type].parse(input.data) as EventData<T>,
  };
}

/** A new job's id: a random UUID, lower-case. */
export function newJobId(): string {
  return randomUUID();
}

/**
 * A UUID in any case: the form of a job id (newJobId) and of every other id this system
 * mints (derived event ids, webhook ids). The job routes, the gRPC API and the CLI refuse
 * anything else before a lookup.
 */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isJobId(value: string): boolean {
  return UUID_PATTERN.test(value);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEvent(event: Envelope): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

/** Parses and validates bytes into a typed envelope; throws EventDecodeError. */
export function decodeEvent(bytes: Uint8Array): AnyEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new EventDecodeError("event is not JSON", { cause });
  }
  const head = envelopeShape.safeParse(raw);
  if (!head.success) throw new EventDecodeError(`bad envelope: ${z.prettifyError(head.error)}`);
  const type = head.data.type;
  if (!isEventType(type)) throw new EventDecodeError(`unknown event type "${type}"`);
  const data = eventSchemas[type].safeParse(head.data.data);
  if (!data.success) throw new EventDecodeError(`bad ${type} data: ${z.prettifyError(data.error)}`);
  return { ...head.data, type, data: data.data } as AnyEnvelope;
}

/**
 * Decodes a message as received on `subject`, which must be where the event belongs:
 * `veriflow.<its type>.<its job id>` (with `bulk.` before the id for bulk work a stage
 * consumes: its request's priority), the job id one subject token, and `data.jobId` the
 * envelope's correlationId (the job id, as every event this system publishes has it).
 * Anything else was published where its readers would misread it: a verification.requested
 * on a content.hashed subject is set aside by the manifest stage, yet the status projection
 * would record a queued job that no stage ever sees; a job id with a `.` or a wildcard names
 * other subjects than its own (the stage's outputs, the lookups of its earlier outcome).
 * Throws EventDecodeError, so the consume loops dead-letter it like bytes that are not an event.
 */
export function decodeEventFrom(subject: string, bytes: Uint8Array): AnyEnvelope {
  const event = decodeEvent(bytes);
  const jobId = event.correlationId;
  const shown = (s: string) => JSON.stringify(s.slice(0, 64));
  if (!isSubjectToken(jobId)) throw new EventDecodeError(`correlationId ${shown(jobId)} is not a job id: it holds ".", "*", ">" or whitespace`);
  const key = keyOf(event);
  const field = isBatchEvent(event) ? "batchId" : "jobId";
  if (key !== jobId) throw new EventDecodeError(`data.${field} ${shown(key)} is not the envelope's correlationId ${shown(jobId)}`);
  const expected = subjectOf(event);
  if (subject !== expected) throw new EventDecodeError(`a ${event.type} event of job ${shown(jobId)} on ${shown(subject)}: it belongs on ${shown(expected)}`);
  return event;
}

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventSchemas, type);
}
