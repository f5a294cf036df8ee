import type { PruneStep, RetentionConfig, Sql } from "@veriflow/pg";
import { pruneCallbacks, pruneDeletedSubscriptions, pruneDeliveries } from "./store.js";

/**
 * What the webhooks service prunes, by the same ages as the jobs (RETENTION_*):
 * - delivered deliveries (and their attempts) RETENTION_COMPLETED_MS after they settled;
 * - undelivered ones (failed, gone, cancelled) RETENTION_FAILED_MS after they settled;
 * - remembered job callbacks after the longer of the two ages (a failed job may be retried
 *   until it is pruned), once no callback of theirs is pending;
 * - deleted subscriptions RETENTION_FAILED_MS after their deletion, once their deliveries are gone.
 * Pending deliveries are never pruned. An age of 0 keeps those rows (and what depends on them).
 */
export function webhooksPruneSteps(sql: Sql, config: RetentionConfig): PruneStep[] {
  const { completedMaxAgeMs: delivered, failedMaxAgeMs: undelivered } = config;
  const steps: PruneStep[] = [];
  const deliveries = (which: "delivered" | "undelivered", age: number): PruneStep => ({
    name: `${which} deliveries`,
    async prune(limit) {
      const r = await pruneDeliveries(sql, which, age, limit);
      return { picked: r.deliveries, deleted: { webhook_deliveries: r.deliveries, webhook_delivery_attempts: r.attempts } };
    },
  });
  if (delivered > 0) steps.push(deliveries("delivered", delivered));
  if (undelivered > 0) steps.push(deliveries("undelivered", undelivered));
  if (delivered > 0 && undelivered > 0) {
    const age = Math.max(delivered, undelivered);
    steps.push({
      name: "job callbacks",
      async prune(limit) {
        const n = await pruneCallbacks(sql, age, limit);
        return { picked: n, deleted: { webhook_job_callbacks: n } };
      },
    });
  }
  if (undelivered > 0) {
    steps.push({
      name: "deleted subscriptions",
      async prune(limit) {
        const n = await pruneDeletedSubscriptions(sql, undelivered, limit);
        return { picked: n, deleted: { webhook_subscriptions: n } };
      },
    });
  }
  return steps;
}
