import { Counter } from "prom-client";
import { createRetryEvent, pipeline, type AnyEnvelope, type EventData, type StageSpec } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import { registerMetrics, type Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import { applyEvents, getJob, getJobEvents, getTenantJob, type Job, type JobEvent } from "./store.js";

export const jobRetries = new Counter({
  name: "veriflow_job_retries_total",
  help: "Failed jobs retried (a new run started), by the stage the run resumes at.",
  labelNames: ["stage"] as const,
  registers: [],
});

export interface JobRetryDeps {
  sql: Sql;
  log: Logger;
  /** Publishes the retry's first event to the stream (its id is the Nats-Msg-Id). */
  publish(event: AnyEnvelope): Promise<void>;
  /** Whether the upload a request names is still stored (a retry at hashing needs it). */
  isUploadStored(upload: NonNullable<EventData<"verification.requested">["upload"]>): Promise<boolean>;
  now?: () => Date;
}

export interface RetriedJob {
  /** The job as it reads right after the retry: queued or processing, in its new run. */
  job: Job;
  run: number;
  /** The stage the new run resumes at: the one that gave up. */
  stage: string;
}

/**
 * Retries a failed job: a new run (n + 1) that resumes at the stage that gave up, by
 * re-publishing the event that stage was handling (from the job's recorded history) under
 * the new run's id. Nothing done before that stage is done again, so a job that failed at
 * the manifest or chain-check stage needs nothing but its history; one that failed at
 * hashing needs its upload, which is gone once hashed or after UPLOADS_MAX_AGE_MS: then
 * 410 E_UPLOAD_GONE. The new run is projected before answering (read-your-write); the
 * consumer's copy of the event is then a no-op. Two retries of the same failure publish
 * the same id, so the stream keeps one.
 */
export function createJobRetry(deps: JobRetryDeps): (jobId: string, tenant: string) => Promise<RetriedJob> {
  registerMetrics(jobRetries);
  const now = deps.now ?? (() => new Date());
  return async (jobId, tenant) => {
    const job = await getTenantJob(deps.sql, jobId, tenant);
    if (!job) throw new HttpError("E_JOB_NOT_FOUND", `no job ${jobId}`);
    if (job.status !== "failed") {
      throw new HttpError("E_JOB_NOT_RETRYABLE", `job ${jobId} is ${job.status} (run ${job.run}): only a failed job can be retried`);
    }
    const history = await getJobEvents(deps.sql, jobId);
    const failure = [...history].reverse().find((e) => e.type === "verification.failed" && e.run === job.run);
    if (!failure) throw new HttpError("E_JOB_NOT_RETRYABLE", `job ${jobId} has no recorded failure for run ${job.run}`);
    const stageName = (failure.data as { stage?: string }).stage;
    const stage: StageSpec | undefined = pipeline.stages.find((s) => s.service === stageName);
    if (!stage) throw new HttpError("E_JOB_NOT_RETRYABLE", `job ${jobId} failed at ${stageName ?? "an unknown place"}, not at a pipeline stage: submit it again`);
    const input = inputOf(job, history, failure, stage);
    if (!input) throw new HttpError("E_JOB_NOT_RETRYABLE", `the ${stage.consumes} event the ${stage.service} stage was handling is no longer recorded for job ${jobId}`);
    // A watch's request names no upload: its retry needs nothing stored.
    if (input.type === "verification.requested" && input.data.upload !== null && !(await deps.isUploadStored(input.data.upload))) {
      throw new HttpError(
        "E_UPLOAD_GONE",
        `job ${jobId} failed at hashing and its upload is no longer stored (deleted once hashed, or older than the uploads bucket's max age): submit the file again`,
      );
    }
    const run = job.run + 1;
    const event = createRetryEvent(input, run, failure.id, now()) as AnyEnvelope;
    await deps.publish(event);
    await applyEvents(deps.sql, [event]);
    jobRetries.inc({ stage: stage.service });
    deps.log.info({ jobId, run, stage: stage.service, eventId: event.id }, "job retried");
    return { job: (await getJob(deps.sql, jobId)) ?? job, run, stage: stage.service };
  };
}

/**
 * The event the failed stage was handling, as an envelope: the failure's cause, or else
 * (an older failure without one recorded) the run's last event of the type the stage consumes.
 */
function inputOf(job: Job, history: readonly JobEvent[], failure: JobEvent, stage: StageSpec): AnyEnvelope | null {
  const byCause = history.find((e) => e.id === failure.causationId && e.type === stage.consumes);
  const found = byCause ?? [...history].reverse().find((e) => e.type === stage.consumes && e.run === failure.run);
  if (!found) return null;
  return {
    id: found.id,
    type: found.type,
    occurredAt: found.occurredAt.toISOString(),
    correlationId: job.id,
    causationId: found.causationId,
    ...(found.run > 1 ? { run: found.run } : {}),
    // The new run stays the job's tenant's (createRetryEvent copies it).
    tenant: job.tenant,
    data: found.data,
  } as AnyEnvelope;
}
