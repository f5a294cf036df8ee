/**
 * Where jobs are addressed over REST: the old queue's API, which clients already call
 * (DOMAIN.md). The gateway answers it, the status and webhooks services answer it behind
 * the gateway, and the CLI, tests and benchmarks call it.
 */
export const JOBS_PATH = "/api/verification-jobs";

/** A job's path (its `pollUrl`), or one of its sub-resources: `jobPath(id, "events")`. */
export function jobPath(jobId: string, sub?: "events" | "history" | "deliveries"): string {
  const path = `${JOBS_PATH}/${encodeURIComponent(jobId)}`;
  return sub === undefined ? path : `${path}/${sub}`;
}
