import Router from "@koa/router";
import Koa, { type Context, type Middleware } from "koa";
import { DEAD_LETTERS_PATH, JOBS_PATH, WEBHOOK_SIGNING_SECRET_PATH, newJobId, type JobType } from "@veriflow/events";
import type { Authenticator } from "@veriflow/auth";
import { authenticate, errorHandler, httpMetrics, presentedApiKey, principalOf, requestId, requireScope } from "@veriflow/http";
import type { Sql } from "@veriflow/pg";
import { acceptSubmission, discardUpload, type AcceptDeps, type Accepted } from "./accept-submission.js";
import { createMultipart, receiveUpload } from "./multipart.js";
import { proxyStreamToStatus, proxyToStatus } from "./status-proxy.js";
import type { SyncSupport } from "./sync-routes.js";
import { proxyToWebhooks } from "./webhooks-proxy.js";
import { checkFieldsSoFar, parseSubmission } from "./submission.js";
import { UPLOAD_NAME, createUploadStorage, type RequestWithUpload, type StoredFile } from "./upload-storage.js";
import type { Admission } from "./admission.js";
import { createHashingStorage, type HashedFile } from "./fallback-pipeline.js";
import { createKeyRouter } from "./key-routes.js";
import { IDEMPOTENCY_KEY_HEADER, contentHashOfDigest, keyReused, readIdempotencyKey, requestFingerprint, type Idempotency } from "./idempotency.js";

export interface GatewayDeps extends AcceptDeps {
  maxUploadBytes: number;
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
}

export function createGatewayApp(deps: GatewayDeps): Koa {
  const upload = createMultipart(createUploadStorage(deps.uploads, (name) => discardUpload(deps, name)), deps.maxUploadBytes);
  // A repeat of an Idempotency-Key is hashed to compare it, never stored.
  const hashOnly = createMultipart(createHashingStorage(), deps.maxUploadBytes);

  const submit = (jobType: JobType): Middleware => async (ctx) => {
    const checkFields = (fields: Record<string, unknown>) => checkFieldsSoFar(jobType, fields, deps.policy);
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
    try {
      await deps.admission.check(uploadSizeOf(ctx));
      // Preset by the sync middleware, which subscribes to the job's outcome before it is published.
      const jobId = (ctx.state.jobId as string | undefined) ?? newJobId();
      (ctx.req as RequestWithUpload)[UPLOAD_NAME] = jobId;
      const { file, fields } = await receiveUpload<StoredFile>(ctx, upload, deps.maxUploadBytes, checkFields);
      const stored = { ...file, fileName: file.originalname || null, contentType: file.mimetype || null };
      const accepted = await acceptSubmission(deps, { jobId, jobType, fields, upload: stored, tenant: principalOf(ctx).tenant });
      deps.admission.accepted();
      if (slot) {
        const request = parseSubmission(jobType, fields, deps.policy);
        await slot.complete(requestFingerprint(request, { contentHash: contentHashOfDigest(stored.digest), size: stored.size }), accepted);
      }
      answerAccepted(ctx, accepted);
    } catch (err) {
      await slot?.release(); // only an accepted job holds a key: a retry may succeed
      throw err;
    }
  };

  // The routes answered here check their scope here; the forwarded ones are checked by the
  // service that answers them (status, webhooks), against the same keys: one rule, one place.
  const router = new Router();
  const submitter = requireScope("submit");
  router.post(`${JOBS_PATH}/verify`, submitter, deps.sync.submission("verify", "async"), submit("verify"));
  router.post(`${JOBS_PATH}/proof`, submitter, deps.sync.submission("proof", "async"), submit("proof"));
  router.post("/api/verify", submitter, deps.sync.submission("verify", "sync"), submit("verify"));
  router.post("/api/proof", submitter, deps.sync.submission("proof", "sync"), submit("proof"));
  const proxy = proxyToStatus(deps.statusUrl);
  router.get(JOBS_PATH, proxy);
  router.get(`${JOBS_PATH}/stats`, deps.sync.stats);
  router.get(`${JOBS_PATH}/:jobId`, proxy);
  router.get(`${JOBS_PATH}/:jobId/history`, proxy);
  router.post(`${JOBS_PATH}/:jobId/retry`, proxy);
  router.get(DEAD_LETTERS_PATH, proxy);
  router.get(`${DEAD_LETTERS_PATH}/:seq`, proxy);
  router.post(`${DEAD_LETTERS_PATH}/:seq/replay`, proxy);
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

  const app = new Koa();
  app.use(httpMetrics("gateway"));
  app.use(requestId());
  app.use(errorHandler(deps.log));
  // Nothing answers without a valid key (401), not even an unknown path.
  app.use(authenticate(deps.authenticator));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  app.use(keys.routes());
  app.use(keys.allowedMethods({ throw: true }));
  return app;
}

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
