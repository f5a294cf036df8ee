import { uuidOf, type AnyEnvelope } from "@veriflow/events";
import type { Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import { reverifyEvent } from "./handlers.js";
import { takeDueRechecks } from "./store.js";

export interface RecheckDeps {
  sql: Sql;
  log: Logger;
  publishRuns(events: readonly AnyEnvelope[]): Promise<void>;
  now(): Date;
  /** Most re-checks started per pass; the rest are due on the next. */
  limit?: number;
}

/**
 * Starts the scheduled re-checks that are due (a job's recheckEvery): each as the job's next run,
 * like a re-verification on a registry change. In one transaction: the due rows are taken
 * (FOR UPDATE SKIP LOCKED, so replicas never start the same one), the runs published, then the
 * commit; a failed publish rolls back and they stay due.
 */
export async function recheckOnce(deps: RecheckDeps): Promise<AnyEnvelope[]> {
  return deps.sql.begin(async (tx) => {
    const now = deps.now();
    const due = await takeDueRechecks(tx, now, deps.limit ?? 500);
    // The cause of a scheduled run is the schedule itself: an id of its own per job and run.
    const runs = due.map((job) => reverifyEvent(job.hashed, job.run, uuidOf(`${job.jobId}/recheck/${job.run}`), now) as AnyEnvelope);
    if (runs.length > 0) {
      await deps.publishRuns(runs);
      deps.log.info({ rechecks: runs.length }, "scheduled re-checks started");
    }
    return runs;
  });
}
