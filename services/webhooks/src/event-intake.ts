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
    const span = { attributes: { "db.system.name": "postgresql", "db.operation.name": "record deliveries", "db.operation.batch.size": events.length } };
    const created = await inSpan("webhooks intake batch", span, () => deps.sql.begin(async (tx) => {
      await rememberCallbacks(tx, callbacksOf(events));
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
  const late = events.filter(
    (e) => e.type === "verification.requested" && e.data.request.callbackUrl && delivery.redelivered(e) && !endingInBatch.has(e.data.jobId),
  );
  const found = await Promise.all(late.map((e) => findJobEnding(e.data.jobId, runOf(e))));
  return found.filter((e): e is AnyEnvelope => e !== null);
}
