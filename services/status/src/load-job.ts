import { tenantOf, type AnyEnvelope } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import { applyEvents, getTenantJob, type Job } from "./store.js";

export interface JobLoaderDeps {
  sql: Sql;
  log: Logger;
  /** The job's request event read straight from the stream; null when there is none. */
  findRequestedEvent: (jobId: string) => Promise<AnyEnvelope | null>;
}

/** Reads one of a tenant's jobs; null for an unknown job and for another tenant's alike. */
export type JobLoader = (jobId: string, tenant: string) => Promise<Job | null>;

/**
 * Reads a job with read-your-write: the gateway answers 202 once JetStream holds the
 * request, maybe before the projection applied it. On a miss, the request is read from
 * the stream and projected here (the consumer's later copy is then a no-op). Every edge
 * (REST, SSE, gRPC) reads jobs through this, so each sees its own tenant's jobs only.
 */
export function createJobLoader(deps: JobLoaderDeps): JobLoader {
  const { sql, log } = deps;
  return async (jobId, tenant) => {
    const job = await getTenantJob(sql, jobId, tenant);
    if (job) return job;
    let requested: AnyEnvelope | null;
    try {
      requested = await deps.findRequestedEvent(jobId);
    } catch (err) {
      log.warn({ err, jobId }, "request lookup failed");
      throw new HttpError("E_STREAM_UNAVAILABLE", `job ${jobId} is not known yet and the event stream cannot be read; retry shortly`, { expose: true });
    }
    if (!requested || requested.type !== "verification.requested" || requested.data.jobId !== jobId || tenantOf(requested) !== tenant) return null;
    await applyEvents(sql, [requested]);
    log.debug({ jobId }, "projected request on read");
    return getTenantJob(sql, jobId, tenant);
  };
}
