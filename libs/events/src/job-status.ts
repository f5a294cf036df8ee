/**
 * A job's lifecycle as the status service projects it and the REST and gRPC APIs show it
 * (DOMAIN.md: `status (queued|processing|completed|failed)`).
 *
 * queued < processing < completed = failed: within a run, a job's status never moves down
 * this order, and the run's first terminal status is final. Only a retry (a new run of the
 * job, the envelope's `run`) takes a failed job back to queued or processing. The status projection folds events with it,
 * watches use it to drop stale updates, and the SQL upsert applies the same order through
 * `verification_job_status_rank` (services/status/migrations; a test checks they agree).
 */
export const jobStatuses = ["queued", "processing", "completed", "failed"] as const;
export type JobStatus = (typeof jobStatuses)[number];

const RANK: Record<JobStatus, number> = { queued: 0, processing: 1, completed: 2, failed: 2 };

/** The rank every terminal status has, and no other. */
export const TERMINAL_RANK = 2;

export function statusRank(status: JobStatus): number {
  return RANK[status];
}

export function isTerminal(status: JobStatus): boolean {
  return RANK[status] === TERMINAL_RANK;
}
