import type { PruneStep, RetentionConfig, Sql } from "@veriflow/pg";
import { pruneJobs } from "./store.js";

/**
 * What the status service prunes: completed jobs after RETENTION_COMPLETED_MS, failed ones
 * after RETENTION_FAILED_MS (both since they finished), each with its recorded events. A job
 * that is queued or processing (a retried one too) is never pruned. An age of 0 keeps them.
 */
export function statusPruneSteps(sql: Sql, config: RetentionConfig): PruneStep[] {
  const ages = { completed: config.completedMaxAgeMs, failed: config.failedMaxAgeMs } as const;
  return (["completed", "failed"] as const)
    .filter((status) => ages[status] > 0)
    .map((status) => ({
      name: `${status} jobs`,
      async prune(limit) {
        const r = await pruneJobs(sql, status, ages[status], limit);
        return { picked: r.jobs, deleted: { verification_jobs: r.jobs, verification_job_events: r.events } };
      },
    }));
}
