import type { Scope } from "@veriflow/auth";
import { errorCatalog, errorCodes, type ErrorCode } from "@veriflow/errors";
import { BATCHES_PATH, DEAD_LETTERS_PATH, JOBS_PATH, PIPELINE_PATH, WATCHES_PATH, WEBHOOK_SIGNING_SECRET_PATH } from "@veriflow/events";
import type { z as zod } from "zod";
import * as admin from "./admin.js";
import * as batches from "./batches.js";
import * as jobs from "./jobs.js";
import * as watches from "./watches.js";
import { PipelineView } from "./pipeline.js";
import { IdempotencyKeyHeader, SubmissionFields } from "./submission.js";
import { z } from "./zod.js";

/**
 * Every route of the gateway's REST API, declared once: the OpenAPI document (document.ts) is
 * generated from this list, and a test checks it against the routes the gateway serves. A new
 * route is one entry here.
 */
export interface ApiRoute {
  method: "get" | "post" | "delete";
  /** As the routers write it: `/api/verification-jobs/:jobId`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: "submissions" | "jobs" | "dead letters" | "webhooks" | "keys" | "reference";
  /** The scope the API key must hold; null: no key needed. */
  scope: Scope | null;
  query?: zod.ZodObject;
  headers?: zod.ZodObject;
  body?: { contentType: "multipart/form-data" | "application/json"; schema: zod.ZodType; required?: boolean };
  /** The successful answers, by status. */
  answers: Record<number, Answer>;
  /** The error codes this route answers besides those of every (keyed) route, ANY_REQUEST_ERRORS (KEYED_ROUTE_ERRORS); grouped by their catalog status. */
  errors: ErrorCode[];
}

export interface Answer {
  description: string;
  schema?: zod.ZodType;
  /** application/json unless told. */
  contentType?: string;
  /** Response headers (components/headers) sent with it; `Location` and the like. */
  headers?: ResponseHeader[];
}

export type ResponseHeader = "Location" | "IdempotentReplayed" | "VeriflowMode";

/** What any request may be answered, whatever the route: by the HTTP server, the rate limit, a fault of ours. */
export const ANY_REQUEST_ERRORS: ErrorCode[] = ["E_BAD_REQUEST", "E_REQUEST_TIMEOUT", "E_URI_TOO_LONG", "E_HEADERS_TOO_LARGE", "E_RATE_LIMITED", "E_INTERNAL"];
/** And a route that needs a key: no valid key, not its scope, the key store unreachable. */
export const KEYED_ROUTE_ERRORS: ErrorCode[] = [...ANY_REQUEST_ERRORS, "E_UNAUTHORIZED", "E_FORBIDDEN", "E_DATABASE_UNAVAILABLE"];

/** Codes a job that failed can carry: a sync answer (or `?wait=`) answers its failure with the code's status. */
const JOB_FAILURES = errorCodes.filter((code) => "jobFailure" in errorCatalog[code]);
const SUBMISSION_ERRORS: ErrorCode[] = [
  "E_BAD_MULTIPART",
  "E_DUPLICATE_FIELD",
  "E_REGISTRY_ADDRESS_REQUIRED",
  "E_INVALID_REGISTRY_ADDRESS",
  "E_MANIFEST_URI_REQUIRED",
  "E_INVALID_MANIFEST_URI",
  "E_MANIFEST_URI_HOST_NOT_ALLOWED",
  "E_MANIFEST_URI_NOT_ALLOWED",
  "E_INVALID_RPC_URL",
  "E_RPC_URL_NOT_ALLOWED",
  "E_RPC_URL_HOST_NOT_ALLOWED",
  "E_INVALID_CALLBACK_URL",
  "E_CALLBACK_HOST_NOT_ALLOWED",
  "E_INVALID_PRIORITY",
  "E_PRIORITY_NOT_ALLOWED",
  "E_INVALID_FRESH",
  "E_CONTROL_CHARACTER",
  "E_FILE_REQUIRED",
  "E_UNEXPECTED_FILE",
  "E_UPLOAD_ABORTED",
  "E_INVALID_IDEMPOTENCY_KEY",
  "E_IDEMPOTENCY_KEY_REUSED",
  "E_IDEMPOTENCY_KEY_IN_PROGRESS",
  "E_LENGTH_REQUIRED",
  "E_PAYLOAD_TOO_LARGE",
  "E_FILE_TOO_LARGE",
  "E_UNSUPPORTED_MEDIA_TYPE",
  "E_EXPECTATION_FAILED",
  "E_QUEUE_BACKLOG",
  "E_QUEUE_UNAVAILABLE",
  "E_STORAGE_UNAVAILABLE",
  "E_STORAGE_FULL",
  "E_FALLBACK_BUSY",
  "E_VERIFY_TIMEOUT",
  ...JOB_FAILURES,
];
/** Answered by the status service behind the gateway. */
const VIA_STATUS: ErrorCode[] = ["E_STATUS_UNAVAILABLE", "E_STREAM_UNAVAILABLE"];
/** Answered by the webhooks service behind the gateway. */
const VIA_WEBHOOKS: ErrorCode[] = ["E_WEBHOOKS_UNAVAILABLE"];
const JSON_BODY: ErrorCode[] = ["E_UNSUPPORTED_MEDIA_TYPE", "E_PAYLOAD_TOO_LARGE", "E_INVALID_JSON", "E_INVALID_BODY"];

/** A watch's fields are a submission's (less the file and rpcUrl) plus its hash. */
const WATCH_ERRORS: ErrorCode[] = [
  "E_CONTENT_HASH_REQUIRED",
  "E_INVALID_CONTENT_HASH",
  "E_WATCH_RPC_URL_NOT_ALLOWED",
  "E_DUPLICATE_FIELD",
  "E_REGISTRY_ADDRESS_REQUIRED",
  "E_INVALID_REGISTRY_ADDRESS",
  "E_MANIFEST_URI_REQUIRED",
  "E_INVALID_MANIFEST_URI",
  "E_MANIFEST_URI_HOST_NOT_ALLOWED",
  "E_MANIFEST_URI_NOT_ALLOWED",
  "E_INVALID_CALLBACK_URL",
  "E_CALLBACK_HOST_NOT_ALLOWED",
  "E_INVALID_RECHECK_EVERY",
  "E_INVALID_PRIORITY",
  "E_PRIORITY_NOT_ALLOWED",
  "E_CONTROL_CHARACTER",
  "E_QUEUE_BACKLOG",
  "E_QUEUE_UNAVAILABLE",
  "E_STORAGE_FULL",
];
const jobId = z.object({ jobId: z.string().uuid().openapi({ param: { description: "The job's id (a uuid)." } }) });
const seq = z.object({ seq: z.string().regex(/^\d{1,15}$/).openapi({ param: { description: "The dead letter's sequence in VERIFLOW_DLQ." } }) });
const webhookId = z.object({ id: z.string().uuid().openapi({ param: { description: "The subscription's id." } }) });
const batchId = z.object({ batchId: z.string().uuid().openapi({ param: { description: "The batch's id (a uuid)." } }) });
const keyId = z.object({ id: z.string().uuid().openapi({ param: { description: "The key's id." } }) });

/** The path parameters of each name a route path may hold. */
const watchId = z.object({ watchId: z.string().uuid().openapi({ param: { description: "The watch's id (a uuid, its job's id)." } }) });
export const PATH_PARAMS: Record<string, zod.ZodObject> = { jobId, batchId, watchId, seq, id: webhookId };

const submitQuery = z.object({
  wait: z.string().regex(/^\d+(\.\d+)?$/).optional().openapi({ param: { description: "Seconds to wait for the outcome before answering 202 (at most GATEWAY_SYNC_TIMEOUT_MS)." } }),
});
const submitHeaders = z.object({ "idempotency-key": IdempotencyKeyHeader });
const multipart = { contentType: "multipart/form-data", schema: SubmissionFields, required: true } as const;
const accepted: Answer = { description: "Queued: the job is readable at `pollUrl` now.", schema: jobs.JobAccepted, headers: ["Location", "IdempotentReplayed"] };
const verdict: Answer = { description: "The outcome, in this answer (FAIL included: a verdict is a completed job).", schema: jobs.SyncAnswer, headers: ["VeriflowMode"] };

function submitRoutes(jobType: "verify" | "proof"): ApiRoute[] {
  const what = jobType === "verify" ? "a verification" : "a proof";
  const Type = jobType === "verify" ? "Verification" : "Proof";
  return [
    {
      method: "post",
      path: `${JOBS_PATH}/${jobType}`,
      operationId: `submit${Type}Job`,
      summary: `Queue ${what} job`,
      description: "202 at once; with `?wait=` the outcome when it comes in time (200, or the job's failure as an error answer).",
      tag: "submissions",
      scope: "submit",
      query: submitQuery,
      headers: submitHeaders,
      body: multipart,
      answers: { 200: verdict, 202: accepted },
      errors: [...SUBMISSION_ERRORS, "E_INVALID_WAIT"],
    },
    {
      method: "post",
      path: `/api/${jobType}`,
      operationId: `${jobType}Now`,
      summary: `${Type === "Proof" ? "Make a proof" : "Verify"} in this request`,
      description: "Waits for the outcome up to GATEWAY_SYNC_TIMEOUT_MS, then answers 202 with the `pollUrl`. While the queue is down the gateway verifies in-process (`x-veriflow-mode: fallback`).",
      tag: "submissions",
      scope: "submit",
      headers: submitHeaders,
      body: multipart,
      answers: { 200: verdict, 202: accepted },
      errors: SUBMISSION_ERRORS,
    },
  ];
}

const JOB_ERRORS: ErrorCode[] = [...VIA_STATUS, "E_INVALID_JOB_ID", "E_JOB_NOT_FOUND"];

const BATCH_ERRORS: ErrorCode[] = [
  // A batch is never verified in-process, so no job failure is its answer (a bad field of the batch still is).
  ...SUBMISSION_ERRORS.filter((code) => (!JOB_FAILURES.includes(code) || errorCatalog[code].kind === "client") && !["E_FALLBACK_BUSY", "E_VERIFY_TIMEOUT", "E_UNEXPECTED_FILE"].includes(code)),
  "E_BATCH_TOO_MANY_FILES",
  "E_BATCH_TOO_LARGE",
  "E_BATCH_EMPTY",
  "E_BATCH_REJECTED",
  "E_INVALID_JOB_TYPE",
];

export const apiRoutes: ApiRoute[] = [
  ...submitRoutes("verify"),
  ...submitRoutes("proof"),
  {
    method: "post",
    path: BATCHES_PATH,
    operationId: "submitBatch",
    summary: "Queue a batch: one job per file",
    description:
      "Each file is stored and queued as a single submission is (bulk priority, with the batch's id); a file that cannot be a job is listed in `rejected` with its code while the others are kept. 400 E_BATCH_REJECTED (`details.rejected`) when none can.",
    tag: "submissions",
    scope: "submit",
    headers: submitHeaders,
    body: { contentType: "multipart/form-data", schema: batches.BatchFields, required: true },
    answers: { 202: { description: "Queued: the batch is readable at `pollUrl` once recorded (a moment later).", schema: batches.BatchAccepted, headers: ["Location", "IdempotentReplayed"] } },
    errors: BATCH_ERRORS,
  },
  {
    method: "get",
    path: `${BATCHES_PATH}/:batchId`,
    operationId: "getBatch",
    summary: "Read a batch: its counts and a page of its jobs",
    tag: "jobs",
    scope: "read",
    query: batches.BatchQuery,
    answers: { 200: { description: "The batch.", schema: batches.Batch } },
    errors: [...VIA_STATUS, "E_INVALID_BATCH_ID", "E_BATCH_NOT_FOUND", "E_INVALID_QUERY"],
  },
  {
    method: "post",
    path: WATCHES_PATH,
    operationId: "createWatch",
    summary: "Watch a content hash: verify it and follow its registry entry",
    description:
      "No file: the hash is given. The watch is a job that starts at the manifest stage; its verdict is re-verified whenever its registry entry changes (or on `recheckEvery`) until the watch is stopped, and `callbackUrl` hears its first verdict and each `verification.changed`.",
    tag: "submissions",
    scope: "submit",
    headers: submitHeaders,
    body: { contentType: "application/json", schema: watches.WatchFields, required: true },
    answers: { 202: { description: "Queued: the watch is readable at `pollUrl` now.", schema: watches.WatchAccepted, headers: ["Location", "IdempotentReplayed"] } },
    errors: [...JSON_BODY, ...WATCH_ERRORS, "E_INVALID_IDEMPOTENCY_KEY", "E_IDEMPOTENCY_KEY_REUSED", "E_IDEMPOTENCY_KEY_IN_PROGRESS"],
  },
  {
    method: "get",
    path: WATCHES_PATH,
    operationId: "listWatches",
    summary: "List your watches, newest first",
    tag: "jobs",
    scope: "read",
    query: watches.ListWatchesQuery,
    answers: { 200: { description: "A page of watches and where the next starts.", schema: watches.WatchPage } },
    errors: [...VIA_STATUS, "E_INVALID_QUERY"],
  },
  {
    method: "get",
    path: `${WATCHES_PATH}/:watchId`,
    operationId: "getWatch",
    summary: "Read a watch: its current verdict and the verdicts before it",
    tag: "jobs",
    scope: "read",
    answers: { 200: { description: "The watch.", schema: watches.Watch } },
    errors: [...VIA_STATUS, "E_INVALID_WATCH_ID", "E_WATCH_NOT_FOUND"],
  },
  {
    method: "delete",
    path: `${WATCHES_PATH}/:watchId`,
    operationId: "deleteWatch",
    summary: "Stop a watch: no more re-verifications (idempotent)",
    description: "Its verdict and history stay readable. A re-verification already running ends without a `verification.changed`.",
    tag: "jobs",
    scope: "submit",
    answers: { 204: { description: "Stopped (or already stopped)." } },
    errors: [...VIA_STATUS, "E_INVALID_WATCH_ID", "E_WATCH_NOT_FOUND", "E_QUEUE_UNAVAILABLE"],
  },
  {
    method: "get",
    path: JOBS_PATH,
    operationId: "listJobs",
    summary: "List jobs, newest first",
    tag: "jobs",
    scope: "read",
    query: jobs.ListJobsQuery,
    answers: { 200: { description: "A page of jobs and where the next starts.", schema: jobs.JobPage } },
    errors: [...VIA_STATUS, "E_INVALID_QUERY"],
  },
  {
    method: "get",
    path: `${JOBS_PATH}/stats`,
    operationId: "getJobStats",
    summary: "Count jobs by status",
    tag: "jobs",
    scope: "read",
    answers: { 200: { description: "The counts (null, with `available: false`, while they cannot be read).", schema: jobs.JobStats } },
    errors: VIA_STATUS,
  },
  {
    method: "get",
    path: PIPELINE_PATH,
    operationId: "getPipeline",
    summary: "Where work waits, and how fast it moves",
    description:
      "Each stage's and observer's consumer (waiting, in flight, acknowledged) and the dead letters' count, the whole system's (counts only: NATS has no tenants); the caller's tenant's completions and failures per minute over the last hour, and each stage's p50/p95 over its most recently finished jobs.",
    tag: "jobs",
    scope: "read",
    answers: { 200: { description: "The pipeline view.", schema: PipelineView } },
    errors: VIA_STATUS,
  },
  { method: "get", path: `${JOBS_PATH}/:jobId`, operationId: "getJob", summary: "Read a job", tag: "jobs", scope: "read", answers: { 200: { description: "The job.", schema: jobs.Job } }, errors: JOB_ERRORS },
  {
    method: "get",
    path: `${JOBS_PATH}/:jobId/events`,
    operationId: "watchJob",
    summary: "Watch a job (Server-Sent Events)",
    description: "`job` events: the current state, then each change (data: the job as getJob answers it); `end` after a terminal state; `error` if the watch fails.",
    tag: "jobs",
    scope: "read",
    answers: { 200: { description: "An event stream.", contentType: "text/event-stream", schema: z.string() } },
    errors: [...JOB_ERRORS, "E_TOO_MANY_WATCHES"],
  },
  {
    method: "get",
    path: `${JOBS_PATH}/:jobId/history`,
    operationId: "getJobHistory",
    summary: "A job's events, in order",
    tag: "jobs",
    scope: "read",
    answers: { 200: { description: "Every event of every run.", schema: jobs.JobHistory } },
    errors: JOB_ERRORS,
  },
  {
    method: "post",
    path: `${JOBS_PATH}/:jobId/retry`,
    operationId: "retryJob",
    summary: "Retry a failed job",
    description: "A new run that resumes at the stage that gave up.",
    tag: "jobs",
    scope: "submit",
    answers: { 202: { description: "The new run, queued.", schema: jobs.RetryAccepted, headers: ["Location"] } },
    errors: [...JOB_ERRORS, "E_JOB_NOT_RETRYABLE", "E_UPLOAD_GONE"],
  },
  {
    method: "get",
    path: `${JOBS_PATH}/:jobId/deliveries`,
    operationId: "getJobDeliveries",
    summary: "A job's callback deliveries",
    tag: "webhooks",
    scope: "read",
    answers: { 200: { description: "Its callbackUrl and every delivery with its attempts.", schema: admin.JobDeliveries } },
    errors: [...VIA_WEBHOOKS, "E_INVALID_JOB_ID"],
  },
  {
    method: "get",
    path: DEAD_LETTERS_PATH,
    operationId: "listDeadLetters",
    summary: "List dead letters, oldest first",
    tag: "dead letters",
    scope: "admin",
    query: admin.DeadLetterQuery,
    answers: { 200: { description: "A page of dead letters (without their bytes).", schema: admin.DeadLetterPage } },
    errors: [...VIA_STATUS, "E_INVALID_QUERY"],
  },
  {
    method: "get",
    path: `${DEAD_LETTERS_PATH}/:seq`,
    operationId: "getDeadLetter",
    summary: "Show a dead letter with its bytes",
    tag: "dead letters",
    scope: "admin",
    answers: { 200: { description: "The dead letter.", schema: admin.DeadLetter } },
    errors: [...VIA_STATUS, "E_INVALID_DEAD_LETTER_SEQ", "E_DEAD_LETTER_NOT_FOUND"],
  },
  {
    method: "post",
    path: `${DEAD_LETTERS_PATH}/:seq/replay`,
    operationId: "replayDeadLetter",
    summary: "Put a dead letter back on its subject, for its consumer only",
    tag: "dead letters",
    scope: "admin",
    answers: { 202: { description: "Replayed, and removed from the dead letters.", schema: admin.DeadLetterReplayed } },
    errors: [...VIA_STATUS, "E_INVALID_DEAD_LETTER_SEQ", "E_DEAD_LETTER_NOT_FOUND", "E_DEAD_LETTER_NOT_REPLAYABLE"],
  },
  {
    method: "get",
    path: WEBHOOK_SIGNING_SECRET_PATH,
    operationId: "getSigningSecret",
    summary: "The tenant's secret for signing its job callbacks",
    tag: "webhooks",
    scope: "admin",
    answers: { 200: { description: "The secret (made on first use).", schema: admin.SigningSecret } },
    errors: VIA_WEBHOOKS,
  },
  {
    method: "post",
    path: `${WEBHOOK_SIGNING_SECRET_PATH}/rotate`,
    operationId: "rotateSigningSecret",
    summary: "Replace the signing secret; the old one keeps signing for an overlap",
    tag: "webhooks",
    scope: "admin",
    body: { contentType: "application/json", schema: admin.RotateSigningSecret, required: false },
    answers: { 200: { description: "The new secret.", schema: admin.SigningSecret } },
    errors: [...VIA_WEBHOOKS, ...JSON_BODY, "E_INVALID_OVERLAP"],
  },
  {
    method: "post",
    path: "/api/webhooks",
    operationId: "createWebhook",
    summary: "Subscribe to the tenant's job events",
    tag: "webhooks",
    scope: "admin",
    body: { contentType: "application/json", schema: admin.WebhookInput, required: true },
    answers: { 201: { description: "The subscription, with its secret (shown once).", schema: admin.WebhookCreated, headers: ["Location"] } },
    errors: [
      ...VIA_WEBHOOKS,
      ...JSON_BODY,
      "E_INVALID_WEBHOOK_URL",
      "E_WEBHOOK_HOST_NOT_ALLOWED",
      "E_CONTROL_CHARACTER",
      "E_INVALID_EVENT_TYPES",
      "E_UNKNOWN_EVENT_TYPE",
      "E_INVALID_SECRET",
      "E_INVALID_DESCRIPTION",
    ],
  },
  {
    method: "get",
    path: "/api/webhooks",
    operationId: "listWebhooks",
    summary: "List the tenant's subscriptions",
    tag: "webhooks",
    scope: "admin",
    query: admin.PageQuery,
    answers: { 200: { description: "A page of subscriptions (never their secrets).", schema: admin.WebhookPage } },
    errors: [...VIA_WEBHOOKS, "E_INVALID_QUERY"],
  },
  {
    method: "get",
    path: "/api/webhooks/:id",
    operationId: "getWebhook",
    summary: "Read a subscription",
    tag: "webhooks",
    scope: "admin",
    answers: { 200: { description: "The subscription.", schema: admin.Webhook } },
    errors: [...VIA_WEBHOOKS, "E_INVALID_WEBHOOK_ID", "E_WEBHOOK_NOT_FOUND"],
  },
  {
    method: "delete",
    path: "/api/webhooks/:id",
    operationId: "deleteWebhook",
    summary: "Delete a subscription",
    tag: "webhooks",
    scope: "admin",
    answers: { 204: { description: "Deleted." } },
    errors: [...VIA_WEBHOOKS, "E_INVALID_WEBHOOK_ID", "E_WEBHOOK_NOT_FOUND"],
  },
  {
    method: "get",
    path: "/api/webhooks/:id/deliveries",
    operationId: "getWebhookDeliveries",
    summary: "A subscription's deliveries",
    tag: "webhooks",
    scope: "admin",
    query: admin.PageQuery,
    answers: { 200: { description: "Its deliveries with their attempts.", schema: admin.WebhookDeliveries } },
    errors: [...VIA_WEBHOOKS, "E_INVALID_WEBHOOK_ID", "E_WEBHOOK_NOT_FOUND", "E_INVALID_QUERY"],
  },
  {
    method: "post",
    path: "/api/keys",
    operationId: "createApiKey",
    summary: "Create an API key",
    description: "A tenant's admin key makes keys of its own tenant; a bootstrap key (API_KEYS) of any.",
    tag: "keys",
    scope: "admin",
    body: { contentType: "application/json", schema: admin.KeyInput, required: true },
    answers: { 201: { description: "The key, shown this once.", schema: admin.ApiKeyCreated, headers: ["Location"] } },
    errors: [...JSON_BODY, "E_INVALID_TENANT", "E_INVALID_SCOPES", "E_INVALID_EXPIRY"],
  },
  {
    method: "get",
    path: "/api/keys",
    operationId: "listApiKeys",
    summary: "List API keys (never the keys themselves)",
    tag: "keys",
    scope: "admin",
    query: admin.KeyListQuery,
    answers: { 200: { description: "The keys.", schema: admin.ApiKeyList } },
    errors: ["E_INVALID_QUERY", "E_INVALID_TENANT"],
  },
  {
    method: "delete",
    path: "/api/keys/:id",
    operationId: "revokeApiKey",
    summary: "Revoke an API key",
    tag: "keys",
    scope: "admin",
    answers: { 200: { description: "The revoked key.", schema: admin.ApiKeyView } },
    errors: ["E_INVALID_KEY_ID", "E_KEY_NOT_FOUND"],
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    summary: "This document",
    tag: "reference",
    scope: null,
    answers: { 200: { description: "The OpenAPI 3.1 document of this API.", schema: z.record(z.string(), z.unknown()) } },
    errors: [],
  },
  {
    method: "get",
    path: "/docs/api",
    operationId: "getApiReference",
    summary: "The API reference (Swagger UI over /openapi.json)",
    tag: "reference",
    scope: null,
    answers: { 200: { description: "An HTML page.", contentType: "text/html", schema: z.string() } },
    errors: [],
  },
];

/** A path parameter's schema for the route paths that name it (`:id` is a webhook's under /api/webhooks, a key's under /api/keys). */
export function pathParamsOf(path: string): zod.ZodObject | undefined {
  const names = [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  if (names.length === 0) return undefined;
  if (path.startsWith("/api/keys/")) return keyId;
  return z.object(Object.assign({}, ...names.map((name) => PATH_PARAMS[name]?.shape ?? {})));
}
