import { CONTENT_HASH_PATTERN, JOBS_PAGE_SIZE, JobType, jobTypes, ProofDocument, Stage, VerifyResult, eventTypes, jobStatuses } from "@veriflow/events";
import { queryCount, queryEnum, queryParam } from "./query.js";
import { z } from "./zod.js";

/** An instant as the API writes it: ISO 8601 in UTC (`Date.toISOString()`). */
export const Timestamp = z.string().datetime({ offset: true });
const uuid = z.string().uuid();

export const JobStatusSchema = z.enum(jobStatuses).openapi("JobStatus", {
  description: "queued < processing < completed = failed; a retry (a new run) takes a failed job back to queued.",
});

/** A completed job's verdict: the verify result, or for a proof job the proof document (a superset). */
export const JobResult = z.union([ProofDocument.meta({ id: "ProofDocument" }), VerifyResult.meta({ id: "VerifyResult" })]);

export const JobFailure = z
  .object({
    stage: Stage,
    code: z.string().regex(/^E_[A-Z0-9_]+$/).openapi({ description: "A failed job's code (docs/errors.md); treat an unknown one like E_INTERNAL." }),
    message: z.string(),
    attempts: z.number().int().positive(),
  })
  .openapi("JobFailure", { description: "Where and why a job gave up." });

/** An earlier run's verdict, kept in the job's `resultHistory` when a re-verification replaced it. */
export const PastVerdict = z
  .object({
    run: z.number().int().positive(),
    status: z.string().nullable().openapi({ description: "OK, WARN or FAIL." }),
    reasons: z.array(z.string()),
    blockNumber: z.number().int().nonnegative().nullable().openapi({ description: "The block the registry entry was read at." }),
    completedAt: Timestamp.nullable(),
    result: JobResult,
  })
  .openapi("PastVerdict");

/** A job as GET /api/verification-jobs/:jobId answers it: the old queue's fields, `failure` and file details. */
export const Job = z
  .object({
    id: uuid,
    jobId: uuid.openapi({ description: "The same as `id` (the old API's name)." }),
    run: z.number().int().positive().openapi({ description: "1, or n + 1 after the job was retried n times." }),
    type: JobType,
    status: JobStatusSchema,
    progress: z.number().int().min(0).max(100).openapi({ description: "10 hashed, 50 manifest fetched and signature checked, 100 done." }),
    contentHash: z.string().nullable(),
    manifestUri: z.string().nullable(),
    registryAddress: z.string().nullable(),
    priority: z.enum(["interactive", "bulk"]).openapi({ description: "The class of work the job runs in (interactive for jobs recorded before priorities)." }),
    fileName: z.string().nullable(),
    fileSize: z.number().int().nonnegative().nullable(),
    result: z.union([JobResult, z.null()]),
    resultHistory: z.array(PastVerdict).openapi({
      description: "Earlier runs' verdicts, oldest first: a re-verification (its registry entry changed) made `result` the new verdict and kept these.",
    }),
    error: z.string().nullable().openapi({ description: "The failure's message; null unless failed." }),
    failure: z.union([JobFailure, z.null()]),
    retryCount: z.number().int().nonnegative(),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    completedAt: Timestamp.nullable(),
    updatedAt: Timestamp,
  })
  .openapi("Job");

/** GET /api/verification-jobs: `status`, `type`, `contentHash`, `limit`, and where the page starts (`cursor`, or the old `offset`). */
export const ListJobsQuery = z.object({
  status: queryEnum("status", jobStatuses),
  type: queryEnum("type", jobTypes),
  contentHash: queryParam(
    "contentHash",
    z
      .string()
      .regex(CONTENT_HASH_PATTERN, { error: (iss) => `contentHash must be 0x followed by 64 hex digits, got "${String(iss.input).slice(0, 80)}"` })
      .openapi({ description: "Only the jobs of this content (0x and 64 hex digits, any case). With `type` or `contentHash`, `total` is null: the counters count by status only." }),
  ),
  limit: queryCount("limit", JOBS_PAGE_SIZE.default, { max: JOBS_PAGE_SIZE.max }),
  offset: queryCount("offset", 0),
  cursor: queryParam("cursor", z.string().openapi({ description: "A page's `nextCursor`: the next page starts after it. Not with a non-zero `offset`." })),
});

export const JobPage = z
  .object({
    jobs: z.array(Job),
    count: z.number().int().nonnegative().nullable().openapi({ description: "Every matching job (the same as `total`); null with a `type` or `contentHash` filter." }),
    total: z.number().int().nonnegative().nullable().openapi({ description: "Every matching job, from the per-status counters; null with a `type` or `contentHash` filter (no count over the rows on every refresh)." }),
    limit: z.number().int().nonnegative(),
    offset: z.number().int().nonnegative().nullable().openapi({ description: "Null on a cursor page." }),
    nextCursor: z.string().nullable().openapi({ description: "Where the next page starts (pass it as `cursor`); null on the last page." }),
  })
  .openapi("JobPage");

const count = z.number().int().nonnegative().nullable();
export const JobStats = z
  .object({
    available: z.boolean().openapi({ description: "False while JetStream (or the status service) is unreachable; the counts are then null." }),
    waiting: count,
    active: count,
    completed: count,
    failed: count,
  })
  .openapi("JobStats");

export const JobHistory = z
  .object({
    jobId: uuid,
    events: z.array(
      z.object({
        id: z.string(),
        type: z.enum(eventTypes),
        run: z.number().int().positive(),
        occurredAt: Timestamp,
        causationId: z.string().nullable(),
        data: z.unknown().openapi({ description: "The event's data (docs/events/)." }),
        recordedAt: Timestamp,
      }),
    ),
  })
  .openapi("JobHistory");

export const JobAccepted = z
  .object({
    mode: z.literal("async"),
    jobId: uuid,
    status: z.literal("queued"),
    message: z.string(),
    pollUrl: z.string().openapi({ description: "Where the job is read (also the `Location` header)." }),
  })
  .openapi("JobAccepted");

export const SyncAnswer = z
  .object({
    mode: z.literal("sync"),
    jobId: uuid.optional().openapi({ description: "Absent when the queue was down and the gateway verified in-process (no job is recorded)." }),
    result: JobResult,
    callback: z.object({ sent: z.literal(false), reason: z.string() }).optional().openapi({ description: "In-process answers only: why the request's callbackUrl is not called." }),
  })
  .openapi("SyncAnswer");

export const RetryAccepted = z
  .object({
    jobId: uuid,
    run: z.number().int().positive(),
    stage: z.string().openapi({ description: "The stage the new run resumes at: the one that gave up." }),
    status: JobStatusSchema,
    message: z.string(),
    pollUrl: z.string(),
    job: Job,
  })
  .openapi("RetryAccepted");
