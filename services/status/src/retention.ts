import type { PruneStep, RetentionConfig, Sql } from "@veriflow/pg";
import { pruneBatches } from "./batch-store.js";
import { pruneJobs } from "./store.js";

/**
 * What the status service prunes: completed jobs after RETENTION_COMPLETED_MS, failed ones
 * after RETENTION_FAILED_MS (both since they finished), each with its recorded events. A job
 * that is queued or processing (a retried one too) is never pruned. An age of 0 keeps them.
 * Batches go once they completed RETENTION_COMPLETED_MS ago and none of their jobs is left.
 */
export function statusPruneSteps(sql: Sql, config: RetentionConfig): PruneStep[] {
  const ages = { completed: config.completedMaxAgeMs, failed: config.failedMaxAgeMs } as const;
  const jobs: PruneStep[] = (["completed", "failed"] as const)
    .filter((status) => ages[status] > 0)
    .map((status) => ({
      name: `${status} jobs`,
      async prune(limit) {
        const r = await pruneJobs(sql, status, ages[status], limit);
        return { picked: r.jobs, deleted: { verification_jobs: r.jobs, verification_job_events: r.events } };
      },
    }));
  if (config.completedMaxAgeMs <= 0) return jobs;
  const batches: PruneStep = {
    name: "batches",
    async prune(limit) {
      const n = await pruneBatches(sql, config.completedMaxAgeMs, limit);
      return { picked: n, deleted: { verification_batches: n } };
    },
  };
  // After the jobs: a batch whose last jobs go in this pass goes in the same pass.
  return [...jobs, batches];
}
