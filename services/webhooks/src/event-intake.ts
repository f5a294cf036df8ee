import { firstOfEachId, runOf, type AnyEnvelope } from "@veriflow/events";
import type { BatchDelivery } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";
import { storable, type Sql } from "@veriflow/pg";
import { inSpan } from "@veriflow/tracing";
import { callbacksOf, planDeliveries, terminalJobIds } from "./handlers.js";
import { findCallbacks, findSubscriptionTargets, insertDeliveries, rememberCallbacks } from "./store.js";

export interface EventIntakeDeps {
  sql: Sql;
  log: Logger;
  maxAgeMs: number;
  /** The job's terminal event of that run or a later one, from the stream (null while it runs). */
  findJobEnding: (jobId: string, fromRun: number) => Promise<AnyEnvelope | null>;
  /** The job's request, from the stream (null when the stream no longer holds it). */
  findJobRequest: (jobId: string) => Promise<AnyEnvelope | null>;
  /** Called after a batch created deliveries, so the worker sends them at once. */
  onNewDeliveries: () => void;
}

/**
 * The consumer's batch handler: in one transaction, remember the batch's callback URLs,
 * then create the deliveries its events call for. Throwing naks the batch (retried later).
 */
export function createEventIntake(deps: EventIntakeDeps): (batch: AnyEnvelope[], delivery: BatchDelivery) => Promise<void> {
  return async (batch, delivery) => {
    // A job's terminal events share one id: the first one seen is the job's outcome, and
    // deliveries are unique per (event id, target), so one terminal callback per job.
    // Strings PostgreSQL cannot store (NUL, lone surrogates) become U+FFFD before any SQL.
    const events = firstOfEachId(batch).map(storable);
    const endedBefore = (await endingsAppliedBefore(events, delivery, deps.findJobEnding)).map(storable);
    const requestsReadBack = (await requestsNotRemembered(events, deps)).map(storable);
    const span = { attributes: { "db.system.name": "postgresql", "db.operation.name": "record deliveries", "db.operation.batch.size": events.length } };
    const created = await inSpan("webhooks intake batch", span, () => deps.sql.begin(async (tx) => {
      await rememberCallbacks(tx, callbacksOf([...requestsReadBack, ...events]));
      const [callbacks, subscriptions] = await Promise.all([
        findCallbacks(tx, terminalJobIds([...events, ...endedBefore])),
        findSubscriptionTargets(tx, [...new Set(events.map((e) => e.type))]),
      ]);
      // An ending read back from the stream went to the subscriptions when it was consumed.
      const planned = [...planDeliveries(events, callbacks, subscriptions), ...planDeliveries(endedBefore, callbacks, [])];
      return insertDeliveries(tx, planned, deps.maxAgeMs);
    }));
    if (created > 0) {
      deps.log.debug({ created, events: events.length }, "deliveries created");
      deps.onNewDeliveries();
    }
  };
}

/**
 * The endings of jobs whose callback request arrives late. First deliveries come in stream
 * order, so a job's request is normally remembered before its terminal event is handled;
 * but a request redelivered (its batch failed, or the service was killed holding it) can
 * come after the job's terminal event was handled without a known callback. For those
 * the ending is read back from the stream and planned now; a delivery planned twice
 * inserts nothing.
 */
async function endingsAppliedBefore(
  events: readonly AnyEnvelope[],
  delivery: BatchDelivery,
  findJobEnding: EventIntakeDeps["findJobEnding"],
): Promise<AnyEnvelope[]> {
  const endingInBatch = new Set(terminalJobIds(events));
  const late = events.flatMap((e) =>
    e.type === "verification.requested" && e.data.request.callbackUrl && delivery.redelivered(e) && !endingInBatch.has(e.data.jobId) ? [e] : [],
  );
  const found = await Promise.all(late.map((e) => findJobEnding(e.data.jobId, runOf(e))));
  return found.filter((e): e is AnyEnvelope => e !== null);
}

/**
 * The requests of jobs whose terminal event is here, that asked for a callback (the envelope
 * says so), but whose URL is not remembered yet. With several replicas, another one may hold
 * the job's request in a batch it has not committed when this one handles the ending: the
 * request is read back from the stream, so the callback is planned now, not never. One query
 * per batch that has such endings; a stream read only for the rare job in that race.
 */
async function requestsNotRemembered(events: readonly AnyEnvelope[], deps: Pick<EventIntakeDeps, "sql" | "findJobRequest">): Promise<AnyEnvelope[]> {
  const requestInBatch = new Set(callbacksOf(events).map((c) => c.jobId));
  const expected = terminalJobIds(events.filter((e) => e.callback === true)).filter((id) => !requestInBatch.has(id));
  if (expected.length === 0) return [];
  const known = await findCallbacks(deps.sql, expected);
  const missing = expected.filter((id) => !known.has(id));
  const found = await Promise.all(missing.map((id) => deps.findJobRequest(id)));
  return found.filter((e): e is AnyEnvelope => e !== null);
}
