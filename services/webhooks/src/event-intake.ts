import { firstOfEachId, type AnyEnvelope } from "@veriflow/events";
import type { Logger } from "@veriflow/platform";
import { storable, type Sql } from "@veriflow/pg";
import { callbacksOf, planDeliveries, terminalJobIds } from "./handlers.js";
import { findCallbacks, findSubscriptionTargets, insertDeliveries, rememberCallbacks } from "./store.js";

export interface EventIntakeDeps {
  sql: Sql;
  log: Logger;
  maxAgeMs: number;
  /** Called after a batch created deliveries, so the worker sends them at once. */
  onNewDeliveries: () => void;
}

/**
 * The consumer's batch handler: in one transaction, remember the batch's callback URLs,
 * then create the deliveries its events call for. Throwing naks the batch (retried later).
 */
export function createEventIntake(deps: EventIntakeDeps): (events: AnyEnvelope[]) => Promise<void> {
  return async (batch) => {
    // A job's terminal events share one id: the first one seen is the job's outcome, and
    // deliveries are unique per (event id, target), so one terminal callback per job.
    // Strings PostgreSQL cannot store (NUL, lone surrogates) become U+FFFD before any SQL.
    const events = firstOfEachId(batch).map(storable);
    const created = await deps.sql.begin(async (tx) => {
      await rememberCallbacks(tx, callbacksOf(events));
      const [callbacks, subscriptions] = await Promise.all([
        findCallbacks(tx, terminalJobIds(events)),
        findSubscriptionTargets(tx, [...new Set(events.map((e) => e.type))]),
      ]);
      return insertDeliveries(tx, planDeliveries(events, callbacks, subscriptions), deps.maxAgeMs);
    });
    if (created > 0) {
      deps.log.debug({ created, events: events.length }, "deliveries created");
      deps.onNewDeliveries();
    }
  };
}
