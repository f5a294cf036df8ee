import { createBatchEvent, type Envelope } from "@veriflow/events";
import type { Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import { findUnpublishedCompletions, markCompletionsPublished, type CompletedBatch } from "./batch-store.js";

/** At most this many completions are published per call (the rest on the next). */
const MAX_PER_PASS = 100;

/** The event that tells subscribers (and the batch's callback) that a batch ended. */
export function batchCompletedEvent({ batch, counts }: CompletedBatch, now: Date = new Date()): Envelope<"batch.completed"> {
  return createBatchEvent(
    "batch.completed",
    { batchId: batch.id, total: batch.total, completed: counts.completed, failed: counts.failed, verdicts: counts.verdicts, callbackUrl: batch.callbackUrl },
    batch.tenant,
    now,
  );
}

/**
 * Publishes the batch completions the projection committed (an outbox: the completion is
 * recorded in the transaction of its last job's ending, published after it commits). Any
 * replica may publish any completion, and one may be published twice (a replica died
 * between publish and mark, or two passes overlap): the event's id is derived from the
 * batch id, so the stream's duplicate window drops the second and the webhooks service
 * keys its deliveries on the same id. Called after every projected batch, so a completion
 * left unpublished by a crash goes out with the next event any replica projects.
 */
export function createBatchCompletionPublisher(deps: { sql: Sql; log: Logger; publish: (events: Envelope<"batch.completed">[]) => Promise<void> }) {
  return async function publishPending(): Promise<number> {
    const pending = await findUnpublishedCompletions(deps.sql, MAX_PER_PASS);
    if (pending.length === 0) return 0;
    await deps.publish(pending.map((c) => batchCompletedEvent(c)));
    await markCompletionsPublished(deps.sql, pending.map((c) => c.batch.id));
    for (const c of pending) deps.log.info({ batchId: c.batch.id, tenant: c.batch.tenant, total: c.batch.total, failed: c.counts.failed }, "batch completed");
    return pending.length;
  };
}
