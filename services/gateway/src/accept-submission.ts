import { createRequestEvent, jobPath, UPLOADS_BUCKET, type JobPriority, type JobType } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import { checkTextField } from "@veriflow/http";
import { deleteUpload, isStorageFullError, publishEvents, type Hold, type UploadWriter } from "@veriflow/nats";
import { noteLogFields, type Logger } from "@veriflow/platform";
import { trace, type Context } from "@veriflow/tracing";
import { withPriority, type PriorityContext } from "./job-priority.js";
import { parseSubmission, type SubmissionPolicy } from "./submission.js";
import type { StoredFile } from "./upload-storage.js";

/** Stores uploads (UploadWriter: publishes, deletes, and the announcement of large ones) and queues their jobs. */
export interface AcceptDeps extends UploadWriter {
  log: Logger;
  policy: SubmissionPolicy;
  /** A submission's budget for waiting out a JetStream that does not answer (GATEWAY_HOLD_MS): one per submission, for its put and its publish. */
  startHold(): Hold;
}

/** A file already streamed into the uploads bucket under the job's id. */
export interface AcceptedUpload extends StoredFile {
  fileName: string | null;
  contentType: string | null;
}

export interface Accepted {
  jobId: string;
  status: "queued";
  message: string;
  /** Where the job is read (REST, through the gateway). */
  pollUrl: string;
}

/**
 * Turns a stored upload and the submission's fields into a queued job of the caller's tenant: validates the
 * fields (parseSubmission), publishes `verification.requested` and returns once JetStream
 * acknowledged it, so the job exists the moment the client hears of it. When the job
 * cannot be accepted the upload is deleted. REST and gRPC submit through this one function.
 */
export async function acceptSubmission(
  deps: AcceptDeps,
  input: { jobId: string; jobType: JobType; fields: Record<string, unknown>; upload: AcceptedUpload; tenant: string; trace: Context; hold: Hold; access: PriorityContext; batchId?: string },
): Promise<Accepted> {
  const { jobId, jobType, upload, tenant } = input;
  // Every later line of the request (REST or gRPC), and its access log line, name the job.
  noteLogFields({ jobId, tenant });
  let priority: JobPriority | undefined;
  try {
    const asked = withPriority(parseSubmission(jobType, input.fields, deps.policy), input.access);
    // A batch's jobs are bulk work: stages serve interactive submissions first.
    const request = input.batchId === undefined ? asked : { ...asked, batchId: input.batchId, priority: "bulk" as const };
    priority = request.priority;
    checkTextField("fileName", upload.fileName);
    checkTextField("contentType", upload.contentType);
    const event = createRequestEvent(jobId, {
      jobId,
      request,
      upload: {
        bucket: UPLOADS_BUCKET,
        name: upload.objectName,
        size: upload.size,
        fileName: upload.fileName,
        contentType: upload.contentType,
        nuid: upload.nuid,
        chunks: upload.chunks,
        digest: upload.digest,
        entrySeq: upload.entrySeq,
        chunkSeq: upload.chunkSeq,
      },
    }, new Date(), tenant);
    // Held through a leader election: a repeat carries the event's id (Nats-Msg-Id), so the stream keeps one.
    await input.hold.run("request publish", (attempt) => publishEvents(deps.js, [event], input.trace, attempt.timeoutMs));
  } catch (err) {
    await discardUpload(deps, upload.objectName, upload);
    throw queueError(err);
  }
  deps.log.info({ jobId, jobType, tenant, priority, size: upload.size, traceId: trace.getSpanContext(input.trace)?.traceId }, "accepted");
  return {
    jobId,
    status: "queued",
    message: `${jobType === "proof" ? "Proof" : "Verification"} job queued successfully`,
    pollUrl: jobPath(jobId),
  };
}

/** Why a request was not queued, as the client hears it: a refusal as it is, a full JetStream 507, anything else 503. */
export function queueError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (isStorageFullError(err)) {
    return new HttpError("E_STORAGE_FULL", "JetStream's storage is full: the job was not queued; send it again later", { cause: err, expose: true, retryAfterSeconds: 30 });
  }
  return new HttpError("E_QUEUE_UNAVAILABLE", "the verification queue is not reachable; try again shortly", { cause: err, expose: true });
}

/**
 * Removes an upload that will not become a job. Best effort: an upload left behind (NATS
 * gone meanwhile) is removed later by the uploads sweep or the bucket's max age.
 */
export async function discardUpload(deps: Pick<AcceptDeps, "jsm" | "log">, name: string, stored?: { nuid: string; chunks: number }): Promise<void> {
  await deleteUpload(deps.jsm, { name, nuid: stored?.nuid ?? null, chunks: stored?.chunks }).catch((err: unknown) => deps.log.warn({ err, upload: name }, "upload not removed"));
}
