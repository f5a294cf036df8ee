import { randomUUID } from "node:crypto";
import { keyOf, tenantOf, terminalEventTypes, type AnyEnvelope, type EventType } from "@veriflow/events";

/** A job's callbackUrl, remembered from its verification.requested, with the job's tenant. */
export interface JobCallback {
  jobId: string;
  tenant: string;
  url: string;
}

/** What the planner needs to know about an active subscription. */
export interface SubscriptionTarget {
  id: string;
  /** It hears this tenant's events only. */
  tenant: string;
  url: string;
  eventTypes: string[];
  createdAt: Date;
}

/** A delivery to create: one per (event, target); a second plan of the same event inserts nothing. */
export interface NewDelivery {
  id: string;
  eventId: string;
  eventType: EventType;
  jobId: string;
  /** The job's tenant: whose secret signs a callback, who may list the delivery. */
  tenant: string;
  /** "job" for the job's callback, "subscription:<id>" for a subscription. */
  target: string;
  subscriptionId: string | null;
  url: string;
  /** The envelope as JSON: the exact body signed and sent on every attempt. */
  body: string;
}

export const JOB_TARGET = "job";
/** The batch's callback (`callbackUrl` of the batch submission), for `batch.completed`. */
export const BATCH_TARGET = "batch";
export const subscriptionTarget = (id: string) => `subscription:${id}`;

/**
 * The events a job's callback hears: its ending, and a later verdict that differs from the one
 * before (verification.changed, from a re-verification).
 */
const callbackTypes = new Set<string>([...terminalEventTypes, "verification.changed"]);

/** The callbacks a batch asks to remember: every request that carries a callbackUrl. */
export function callbacksOf(events: readonly AnyEnvelope[]): JobCallback[] {
  const out: JobCallback[] = [];
  for (const e of events) {
    if (e.type === "verification.requested" && e.data.request.callbackUrl) out.push({ jobId: e.data.jobId, tenant: tenantOf(e), url: e.data.request.callbackUrl });
  }
  return out;
}

/** Job ids whose callbacks the batch may need: those of its terminal (and verification.changed) events. */
export function terminalJobIds(events: readonly AnyEnvelope[]): string[] {
  return [...new Set(events.filter((e) => callbackTypes.has(e.type)).map(keyOf))];
}

/**
 * Turns events into deliveries: a terminal event or a verification.changed goes to its job's callback (if it asked
 * for one), a batch.completed to its batch's callback (carried in the event), and any event to each subscription of the job's tenant that lists its type and
 * existed when the event occurred. Types nobody wants produce nothing.
 */
export function planDeliveries(
  events: readonly AnyEnvelope[],
  callbacks: ReadonlyMap<string, string>,
  subscriptions: readonly SubscriptionTarget[],
  newId: () => string = randomUUID,
): NewDelivery[] {
  const out: NewDelivery[] = [];
  for (const e of events) {
    // A batch event's deliveries are filed under its batch id.
    const jobId = keyOf(e);
    const tenant = tenantOf(e);
    let body: string | undefined;
    const add = (target: string, url: string, subscriptionId: string | null) =>
      out.push({ id: newId(), eventId: e.id, eventType: e.type, jobId, tenant, target, subscriptionId, url, body: (body ??= JSON.stringify(e)) });
    const callback = callbackTypes.has(e.type) ? callbacks.get(jobId) : undefined;
    if (callback) add(JOB_TARGET, callback, null);
    if (e.type === "batch.completed" && e.data.callbackUrl) add(BATCH_TARGET, e.data.callbackUrl, null);
    const occurredAt = Date.parse(e.occurredAt);
    for (const s of subscriptions) {
      if (s.tenant === tenant && s.eventTypes.includes(e.type) && s.createdAt.getTime() <= occurredAt) add(subscriptionTarget(s.id), s.url, s.id);
    }
  }
  return out;
}
