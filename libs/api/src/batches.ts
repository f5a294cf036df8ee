import { JOBS_PAGE_SIZE, jobStatuses, jobTypes } from "@veriflow/events";
import { RegistryAddressField } from "./submission.js";
import { Job } from "./jobs.js";
import { z } from "./zod.js";

/** POST /api/verification-batches: several files, a manifestURI per file in their order, the fields they share. */
export const BatchFields = z
  .object({
    registryAddress: RegistryAddressField,
    manifestURI: z.array(z.string()).openapi({ description: "One per `file` part, in the same order (`ipfs://…`, `https://…`); a file without one is rejected on its own." }),
    jobType: z.enum(jobTypes).optional().openapi({ description: "Every file's job type; `verify` unless told." }),
    rpcUrl: z.string().optional().openapi({ description: "A per-job JSON-RPC endpoint for every job, only one RPC_URL_ALLOWLIST allows." }),
    callbackUrl: z.string().optional().openapi({ description: "Where `batch.completed` is POSTed when the batch's last job ends (signed with the tenant's signing secret)." }),
    fresh: z.enum(["true", "false", "1", "0"]).optional().openapi({ description: "`true`: every file's job is decided afresh, never answered from a known verdict (see the single submission's `fresh`)." }),
    file: z.array(z.string().openapi({ format: "binary" })).openapi({ description: "The files: at most GATEWAY_MAX_BATCH_FILES, GATEWAY_MAX_BATCH_BYTES together, each at most GATEWAY_MAX_UPLOAD_BYTES and named plainly." }),
  })
  .openapi("BatchFields");

const RejectedPart = z
  .object({
    index: z.number().int().nonnegative().openapi({ description: "The file's place in the request, from 0." }),
    fileName: z.string().nullable(),
    code: z.string().openapi({ description: "Why: an E_* code of docs/errors.md (E_FILE_TOO_LARGE, E_MANIFEST_URI_REQUIRED, E_FILE_NAME_INVALID, …)." }),
    message: z.string(),
  })
  .openapi("RejectedPart");

export const BatchAccepted = z
  .object({
    batchId: z.string().uuid(),
    pollUrl: z.string(),
    jobs: z.array(z.object({ jobId: z.string().uuid(), fileName: z.string() })),
    rejected: z.array(RejectedPart),
  })
  .openapi("BatchAccepted");

export const BatchQuery = z.object({
  limit: z.coerce.number().int().min(1).optional().openapi({ param: { description: `Jobs per page: default ${JOBS_PAGE_SIZE.default}, at most ${JOBS_PAGE_SIZE.max}.` } }),
  offset: z.coerce.number().int().min(0).optional().openapi({ param: { description: "Jobs skipped, newest first." } }),
  status: z.enum(jobStatuses).optional().openapi({ param: { description: "Only the jobs in this status." } }),
});

const count = z.number().int().nonnegative();
export const Batch = z
  .object({
    batchId: z.string().uuid(),
    type: z.enum(jobTypes),
    registryAddress: z.string(),
    createdAt: z.string(),
    total: count.openapi({ description: "Its jobs (the files accepted)." }),
    rejected: count.openapi({ description: "The files refused when it was submitted." }),
    counts: z.object({ queued: count, processing: count, completed: count, failed: count }),
    verdicts: z.object({ OK: count, WARN: count, FAIL: count }).openapi({ description: "The verdicts of the completed jobs." }),
    done: z.boolean().openapi({ description: "Every job ended; `batch.completed` was published." }),
    completedAt: z.string().nullable(),
    jobs: z.array(Job),
    limit: count,
    offset: count,
  })
  .openapi("Batch");
