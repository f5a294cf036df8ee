import type { AnyEnvelope } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import { applyEvents, getJob, type Job } from "./store.js";

export interface JobLoaderDeps {
  sql: Sql;
  log: Logger;
  /** The job's request event read straight from the stream; null when there is none. */
  findRequestedEvent: (jobId: string) => Promise<AnyEnvelope | null>;
}

/**
 * Reads a job with read-your-write: the gateway answers 202 once JetStream holds the
 * request, maybe before the projection applied it. On a miss, the request is read from
 * the stream and projected here (the consumer's later copy is then a no-op). Every edge
 * (REST, SSE, gRPC) reads jobs through this.
 */
export function createJobLoader(deps: JobLoaderDeps): (jobId: string) => Promise<Job | null> {
  const { sql, log } = deps;
  return async (jobId) => {
    const job = await getJob(sql, jobId);
    if (job) return job;
    let requested: AnyEnvelope | null;
    try {
      requested = await deps.findRequestedEvent(jobId);
    } catch (err) {
      log.warn({ err, jobId }, "request lookup failed");
      throw new HttpError("E_STREAM_UNAVAILABLE", `job ${jobId} is not known yet and the event stream cannot be read; retry shortly`, { expose: true });
    }
    if (!requested || requested.type !== "verification.requested" || requested.data.jobId !== jobId) return null;
    await applyEvents(sql, [requested]);
    log.debug({ jobId }, "projected request on read");
    return getJob(sql, jobId);
  };
}
