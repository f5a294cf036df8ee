import { createEvent, pipeline, type Envelope, type FailureSite, type JobType } from "@veriflow/events";
import { errorCode, errorMessage } from "@veriflow/errors";

/** Every pipeline event carries its job type somewhere; the failed event repeats it. */
function jobTypeOf(event: Envelope): JobType | null {
  const data = event.data as { request?: { jobType?: JobType }; jobType?: JobType | null };
  return data.request?.jobType ?? data.jobType ?? null;
}

/**
 * The give-up policy every stage shares, over JetStream and in-process alike: one
 * `verification.failed` naming where the job stopped, with the error's E_* code. The
 * message reaches clients (the job's `error`, a synchronous answer), so an unexpected
 * error's own text, which may name internals, stays in the service's log instead.
 */
export function failedEventFor(site: FailureSite, event: Envelope, err: unknown, attempts: number): Envelope<"verification.failed"> {
  const code = errorCode(err);
  return createEvent(
    pipeline.giveUp,
    {
      jobId: event.correlationId,
      jobType: jobTypeOf(event),
      stage: site,
      code,
      message: code === "E_INTERNAL" ? `an internal error stopped the ${site} stage` : errorMessage(err).slice(0, 2000),
      attempts,
    },
    event,
  );
}
