import { batchPath, createBatchEvent, type JobType } from "@veriflow/events";
import { HttpError, badRequest } from "@veriflow/errors";
import { isStorageFullError, publishEvents } from "@veriflow/nats";
import type { Context } from "@veriflow/tracing";
import { acceptSubmission, discardUpload, type AcceptDeps, type AcceptedUpload } from "./accept-submission.js";
import type { RejectedPart } from "./batch-storage.js";
import type { PriorityContext } from "./job-priority.js";
import { fingerprintOf } from "./idempotency.js";
import type { BatchFields } from "./submission.js";

/**
 * A batch: many files, one job each (REST POST /api/verification-batches, gRPC SubmitBatch).
 * Each file becomes a job through acceptSubmission, exactly as a single submission does; a
 * file that cannot is listed in `rejected` with its code, and the others are kept.
 */

/**
 * A batch's jobs are bulk whatever the request asks (acceptSubmission sets it with the
 * batchId), so no scope is needed to settle their class and nobody waits on the connection.
 */
const BATCH_ACCESS: PriorityContext = { scopes: [], waits: false };

/** The 202 answer (REST body, gRPC response). */
export interface BatchAnswer {
  batchId: string;
  /** Where the batch is read (REST, through the gateway). */
  pollUrl: string;
  jobs: { jobId: string; fileName: string }[];
  rejected: RejectedPart[];
}

/** One file of a batch as its transport received it: stored under its job id, or already refused. */
export type BatchItem =
  | { kind: "stored"; index: number; jobId: string; fileName: string; manifestUri: string | undefined; upload: AcceptedUpload; contentHash: string }
  | ({ kind: "rejected" } & RejectedPart);

/**
 * Queues a job per stored file (a file without its manifestURI, or with a bad one, is
 * rejected and its upload removed), then publishes `batch.submitted` with the jobs it holds.
 * When no file is left, the answer is 400 E_BATCH_REJECTED listing why each was refused.
 */
export async function acceptBatch(
  deps: AcceptDeps,
  input: { batchId: string; jobType: JobType; shared: BatchFields; items: readonly BatchItem[]; tenant: string; trace: Context },
): Promise<BatchAnswer> {
  const { batchId, jobType, shared, tenant } = input;
  // One budget for the whole batch: its files' publishes are held through an election together.
  const hold = deps.startHold();
  if (input.items.length === 0) throw badRequest("E_BATCH_EMPTY", 'the batch holds no file: send "file" parts, each with its "manifestURI" in the same order');
  const outcomes = await Promise.all(
    input.items.map(async (item): Promise<{ jobId: string; fileName: string } | RejectedPart> => {
      if (item.kind === "rejected") return { index: item.index, fileName: item.fileName, code: item.code, message: item.message };
      const refuse = (err: HttpError): RejectedPart => ({ index: item.index, fileName: item.fileName, code: err.code, message: err.message });
      if (!item.manifestUri) {
        await discardUpload(deps, item.upload.objectName, item.upload);
        return refuse(badRequest("E_MANIFEST_URI_REQUIRED", `file ${item.index} has no manifestURI: send one "manifestURI" field per file, in the files' order`));
      }
      // Each job's request event waits, like each file did (bulk-yield.ts), while a single submission is being queued.
      await deps.bulkYield?.turn();
      const fields = { registryAddress: shared.registryAddress, manifestURI: item.manifestUri, ...(shared.rpcUrl ? { rpcUrl: shared.rpcUrl } : {}), ...(shared.fresh ? { fresh: "true" } : {}) };
      try {
        const accepted = await acceptSubmission(deps, { jobId: item.jobId, jobType, fields, upload: item.upload, tenant, trace: input.trace, batchId, hold, access: BATCH_ACCESS });
        return { jobId: accepted.jobId, fileName: item.fileName };
      } catch (err) {
        // The upload is removed by acceptSubmission; the reason (a bad manifestURI, or the queue gone) is this file's.
        if (err instanceof HttpError) return refuse(err);
        throw err;
      }
    }),
  );
  const jobs = outcomes.filter((o): o is { jobId: string; fileName: string } => "jobId" in o);
  const rejected = outcomes.filter((o): o is RejectedPart => !("jobId" in o)).sort((a, b) => a.index - b.index);
  if (jobs.length === 0) {
    throw new HttpError("E_BATCH_REJECTED", `every file of the batch was refused (${rejected.map((r) => r.code).join(", ")})`, { details: { rejected } });
  }
  const event = createBatchEvent(
    "batch.submitted",
    { batchId, jobType, registryAddress: shared.registryAddress, total: jobs.length, jobIds: jobs.map((j) => j.jobId), rejected: rejected.length, callbackUrl: shared.callbackUrl },
    tenant,
  );
  try {
    await publishEvents(deps.js, [event], input.trace);
  } catch (err) {
    // The jobs are queued and will run; without this event the batch has no record (its page answers 404).
    if (isStorageFullError(err)) throw new HttpError("E_STORAGE_FULL", "JetStream's storage is full: the batch was not recorded; its jobs are queued", { cause: err, expose: true, retryAfterSeconds: 30 });
    throw new HttpError("E_QUEUE_UNAVAILABLE", "the batch could not be recorded (its jobs are queued); try again shortly", { cause: err, expose: true });
  }
  deps.log.info({ batchId, tenant, jobs: jobs.length, rejected: rejected.length }, "batch accepted");
  return { batchId, pollUrl: batchPath(batchId), jobs, rejected };
}

/** What makes two batch requests "the same" (Idempotency-Key): the type, the shared fields, each file's name, manifestURI and bytes. */
export function batchFingerprint(jobType: JobType, shared: BatchFields, files: readonly { fileName: string | null; manifestUri: string | undefined; contentHash: string | null; size: number | null }[]): string {
  // fresh only when asked for: the fingerprints of batches without it stay what they were.
  return fingerprintOf([
    "batch",
    jobType,
    shared.registryAddress,
    shared.rpcUrl,
    shared.callbackUrl,
    files.map((f) => [f.fileName, f.manifestUri ?? null, f.contentHash?.toLowerCase() ?? null, f.size]),
    ...(shared.fresh ? ["fresh"] : []),
  ]);
}
