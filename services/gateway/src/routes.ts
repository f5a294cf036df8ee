import Koa, { type Context, type Middleware } from "koa";
import { BATCHES_PATH, DEAD_LETTERS_PATH, JOBS_PATH, PIPELINE_PATH, WATCHES_PATH, WEBHOOK_SIGNING_SECRET_PATH, JobPriority, newJobId, type JobType } from "@veriflow/events";
import type { Authenticator } from "@veriflow/auth";
import { authenticate, createRouter, errorHandler, httpMetrics, methodsNotAllowed, presentedApiKey, principalOf, readJsonBody, requestId, requireScope, traceContextOf, traceRequests } from "@veriflow/http";
import type { Sql } from "@veriflow/pg";
import type { Tracing } from "@veriflow/tracing";
import { acceptSubmission, discardUpload, type AcceptDeps, type Accepted } from "./accept-submission.js";
import { createMultipart, receiveUpload } from "./multipart.js";
import { proxyStreamToStatus, proxyToStatus } from "./status-proxy.js";
import type { SyncSupport } from "./sync-routes.js";
import { proxyToWebhooks } from "./webhooks-proxy.js";
import { defaultPriority, settlePriority } from "./job-priority.js";
import { checkFieldsSoFar, parseSubmission } from "./submission.js";
import { noteHeld } from "./held-submissions.js";
import { UPLOAD_HOLD, UPLOAD_NAME, createUploadStorage, type RequestWithUpload, type StoredFile } from "./upload-storage.js";
import type { Admission } from "./admission.js";
import type { RateLimitEdges } from "./rate-limit-edges.js";
import { createHashingStorage, type HashedFile } from "./fallback-pipeline.js";
import { createKeyRouter } from "./key-routes.js";
import { createBatchSubmit } from "./batch-route.js";
import { submitWatch } from "./watch-submission.js";
import type { BatchLimits } from "./batch-storage.js";
import { serveDashboard, type DashboardFiles } from "./dashboard.js";
import { createApiDocsRouter } from "./api-docs.js";
import { IDEMPOTENCY_KEY_HEADER, contentHashOfDigest, keyReused, readIdempotencyKey, requestFingerprint, type Idempotency } from "./idempotency.js";

export interface GatewayDeps extends AcceptDeps {
  maxUploadBytes: number;
  /** Files and bytes per batch (GATEWAY_MAX_BATCH_FILES, GATEWAY_MAX_BATCH_BYTES), and per file. */
  batchLimits: BatchLimits;
  statusUrl: string;
  /** Where the webhooks service answers /api/webhooks and a job's callback deliveries. */
  webhooksUrl: string;
  /** Checks every request's API key; the job and webhook routes forward it to the service that answers them, which checks it too. */
  authenticator: Authenticator;
  /** The key store (API keys admin routes). */
  sql: Sql;
  /** Synchronous answers (/api/verify, ?wait=) and the in-process fallback while the queue is down. */
  sync: SyncSupport;
  /** Whether the queue can take a job now (backlog, full stores): 503/507 before the body is read. */
  admission: Admission;
  /** Idempotency-Key records. */
  idempotency: Idempotency;
  /** Per API key and client address request budgets: submissions, and everything else. */
  rateLimits: RateLimitEdges;
  /** X-Forwarded-For entries to trust (GATEWAY_TRUSTED_PROXY_HOPS): who the client address is. */
  trustedProxyHops: number;
  /** The operator dashboard's built files (dashboard.ts); null when not built, absent in tests that need none. */
  dashboard?: DashboardFiles | null;
  /** The service's tracing (a server span per request; off when not given). */
  tracing?: Tracing;
}

export function createGatewayApp(deps: GatewayDeps): Koa {
  const upload = createMultipart(createUploadStorage(deps, (name) => discardUpload(deps, name)), deps.maxUploadBytes);
  // A repeat of an Idempotency-Key is hashed to compare it, never stored.
  const hashOnly = createMultipart(createHashingStorage(), deps.maxUploadBytes);

  const submit = (jobType: JobType): Middleware => async (ctx) => {
    const access = { scopes: principalOf(ctx).scopes, waits: ctx.state.waits === true };
    const checkFields = (fields: Record<string, unknown>) => {
      checkFieldsSoFar(jobType, fields, deps.policy);
      // A class the key may not ask for is refused before the file is stored, like a bad field.
      if (JobPriority.safeParse(fields.priority).success) settlePriority(jobType, fields.priority as JobPriority, access);
    };
    const key = readIdempotencyKey(ctx.get(IDEMPOTENCY_KEY_HEADER));
    const slot = key === undefined ? undefined : await deps.idempotency.begin(presentedApiKey((name) => ctx.get(name)), key);
    if (slot?.kind === "done") {
      // The same key again: the same job, if it is the same request (its file only hashed, never stored).
      const { file, fields } = await receiveUpload<HashedFile>(ctx, hashOnly, deps.maxUploadBytes, checkFields);
      const request = parseSubmission(jobType, fields, deps.policy);
      if (requestFingerprint(request, file) !== slot.record.fingerprint) throw keyReused();
      ctx.state.jobId = slot.record.accepted.jobId; // the sync middleware waits for this job
      ctx.set("idempotent-replayed", "true");
      answerAccepted(ctx, slot.record.accepted);
      return;
    }
    const hold = deps.startHold();
    let yielded: (() => void) | undefined;
    try {
      // Judged in the class the job has before its fields are read (a verification or a wait:
      // interactive; an asynchronous proof: bulk), which a `priority` field may still lower.
      const expected = defaultPriority({ jobType }, access);
      await deps.admission.check(uploadSizeOf(ctx), expected);
      // Batches' uploads wait while this one is stored and queued (bulk-yield.ts).
      if (expected === "interactive") yielded = deps.bulkYield?.interactive();
      // Preset by the sync middleware, which subscribes to the job's outcome before it is published.
      const jobId = (ctx.state.jobId as string | undefined) ?? newJobId();
      ctx.state.jobId = jobId; // the request's access line names its job
      (ctx.req as RequestWithUpload)[UPLOAD_NAME] = jobId;
      // One budget for the put and the publish: the client hears within GATEWAY_HOLD_MS (+ the upload's own time).
      (ctx.req as RequestWithUpload)[UPLOAD_HOLD] = hold;
      const { file, fields } = await receiveUpload<StoredFile>(ctx, upload, deps.maxUploadBytes, checkFields);
      const stored = { ...file, fileName: file.originalname || null, contentType: file.mimetype || null };
      const accepted = await acceptSubmission(deps, { jobId, jobType, fields, upload: stored, tenant: principalOf(ctx).tenant, trace: traceContextOf(ctx), hold, access });
      noteHeld(hold, "accepted", deps.log);
      deps.admission.accepted(expected);
      if (slot) {
        const request = parseSubmission(jobType, fields, deps.policy);
        await slot.complete(requestFingerprint(request, { contentHash: contentHashOfDigest(stored.digest), size: stored.size }), accepted);
      }
      answerAccepted(ctx, accepted);
    } catch (err) {
      noteHeld(hold, "refused", deps.log);
      await slot?.release(); // only an accepted job holds a key: a retry may succeed
      throw err;
    } finally {
      yielded?.();
    }
  };

  // The routes answered here check their scope here; the forwarded ones are checked by the
  // service that answers them (status, webhooks), against the same keys: one rule, one place.
  const router = createRouter();
  const submitter = requireScope("submit");
  for (const { path, jobType, mode } of SUBMIT_ROUTES) router.post(path, submitter, deps.sync.submission(jobType, mode), submit(jobType));
  router.post(BATCHES_PATH, submitter, createBatchSubmit(deps));
  router.post(WATCHES_PATH, submitter, async (ctx) => {
    const { tenant, scopes } = principalOf(ctx);
    const key = readIdempotencyKey(ctx.get(IDEMPOTENCY_KEY_HEADER));
    const idempotency = key === undefined ? undefined : { key, apiKey: presentedApiKey((name) => ctx.get(name)) };
    const fields = await readJsonBody(ctx, WATCH_BODY_MAX_BYTES);
    const { accepted, replayed } = await submitWatch(deps, { fields, tenant, scopes, trace: traceContextOf(ctx), idempotency });
    if (replayed) ctx.set("idempotent-replayed", "true");
    ctx.status = 202;
    ctx.set("location", accepted.pollUrl);
    ctx.body = accepted;
  });
  const proxy = proxyToStatus(deps.statusUrl);
  router.get(WATCHES_PATH, proxy);
  router.get(`${WATCHES_PATH}/:watchId`, proxy);
  router.delete(`${WATCHES_PATH}/:watchId`, proxy);
  router.get(`${BATCHES_PATH}/:batchId`, proxy);
  router.get(JOBS_PATH, proxy);
  router.get(`${JOBS_PATH}/stats`, deps.sync.stats);
  router.get(`${JOBS_PATH}/:jobId`, proxy);
  router.get(`${JOBS_PATH}/:jobId/history`, proxy);
  router.post(`${JOBS_PATH}/:jobId/retry`, proxy);
  router.get(DEAD_LETTERS_PATH, proxy);
  router.get(`${DEAD_LETTERS_PATH}/:seq`, proxy);
  router.post(`${DEAD_LETTERS_PATH}/:seq/replay`, proxy);
  router.get(PIPELINE_PATH, proxy);
  router.get(`${JOBS_PATH}/:jobId/events`, proxyStreamToStatus(deps.statusUrl));
  const webhooks = proxyToWebhooks(deps.webhooksUrl);
  router.get(`${JOBS_PATH}/:jobId/deliveries`, webhooks);
  router.get(WEBHOOK_SIGNING_SECRET_PATH, webhooks);
  router.post(`${WEBHOOK_SIGNING_SECRET_PATH}/rotate`, webhooks);
  router.post("/api/webhooks", webhooks);
  router.get("/api/webhooks", webhooks);
  router.get("/api/webhooks/:id", webhooks);
  router.delete("/api/webhooks/:id", webhooks);
  router.get("/api/webhooks/:id/deliveries", webhooks);
  const keys = createKeyRouter({ sql: deps.sql, log: deps.log, authenticator: deps.authenticator });

  const app = new Koa({ proxy: deps.trustedProxyHops > 0, maxIpsCount: deps.trustedProxyHops });
  app.use(httpMetrics("gateway"));
  app.use(requestId());
  app.use(traceRequests(deps.log, deps.tracing));
  app.use(errorHandler(deps.log));
  // Public static files, served from memory before the budgets and the key check: the page
  // holds no data, and every call it makes presents its user's key like any client's.
  if (deps.dashboard !== undefined) app.use(serveDashboard(deps.dashboard));
  // Each request's budget before its key: requests with a wrong key spend their address's budget.
  const limits = { submit: deps.rateLimits.rest("submit"), read: deps.rateLimits.rest("read") };
  app.use((ctx, next) => limits[ctx.method === "POST" && SUBMIT_PATHS.has(ctx.path) ? "submit" : "read"](ctx, next));
  // The API's contract and its reference page need no key (api-docs.ts).
  const docs = createApiDocsRouter();
  app.use(docs.routes());
  app.use(methodsNotAllowed(docs));
  // Nothing else answers without a valid key (401), not even an unknown path.
  app.use(authenticate(deps.authenticator));
  app.use(router.routes());
  app.use(methodsNotAllowed(router));
  app.use(keys.routes());
  app.use(methodsNotAllowed(keys));
  return app;
}

/** The submissions: the `submit` scope and budget; every other route is a read (or answered by status, webhooks). */
const SUBMIT_ROUTES = [
  { path: `${JOBS_PATH}/verify`, jobType: "verify", mode: "async" },
  { path: `${JOBS_PATH}/proof`, jobType: "proof", mode: "async" },
  { path: "/api/verify", jobType: "verify", mode: "sync" },
  { path: "/api/proof", jobType: "proof", mode: "sync" },
] as const;
const SUBMIT_PATHS: ReadonlySet<string> = new Set([...SUBMIT_ROUTES.map((r) => r.path), BATCHES_PATH, WATCHES_PATH]);
/** A watch's JSON body: a hash, two URIs, an address and two short fields. */
const WATCH_BODY_MAX_BYTES = 16 * 1024;

function answerAccepted(ctx: Context, accepted: Accepted): void {
  ctx.status = 202;
  ctx.set("location", accepted.pollUrl);
  ctx.body = { mode: "async", ...accepted };
}

/** The body's declared length (the file plus a little multipart framing), to refuse what cannot fit before reading it. */
function uploadSizeOf(ctx: Context): number | undefined {
  const n = Number(ctx.get("content-length"));
  return ctx.get("content-length") !== "" && Number.isSafeInteger(n) ? n : undefined;
}
