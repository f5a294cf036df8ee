import Koa, { type Context, type Middleware } from "koa";
import { DEAD_LETTERS_PATH, JOBS_PATH, newJobId, type JobType } from "@veriflow/events";
import { createRouter, errorHandler, httpMetrics, methodsNotAllowed, presentedApiKey, requestId, requireApiKey } from "@veriflow/http";
import { acceptSubmission, discardUpload, type AcceptDeps, type Accepted } from "./accept-submission.js";
import { createMultipart, receiveUpload } from "./multipart.js";
import { proxyStreamToStatus, proxyToStatus } from "./status-proxy.js";
import type { SyncSupport } from "./sync-routes.js";
import { proxyToWebhooks } from "./webhooks-proxy.js";
import { checkFieldsSoFar, parseSubmission } from "./submission.js";
import { UPLOAD_NAME, createUploadStorage, type RequestWithUpload, type StoredFile } from "./upload-storage.js";
import type { Admission } from "./admission.js";
import type { RateLimitEdges } from "./rate-limit-edges.js";
import { createHashingStorage, type HashedFile } from "./fallback-pipeline.js";
import { IDEMPOTENCY_KEY_HEADER, contentHashOfDigest, keyReused, readIdempotencyKey, requestFingerprint, type Idempotency } from "./idempotency.js";

export interface GatewayDeps extends AcceptDeps {
  maxUploadBytes: number;
  statusUrl: string;
  /** Where the webhooks service answers /api/webhooks and a job's callback deliveries. */
  webhooksUrl: string;
  apiKeys: string[];
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
}

export function createGatewayApp(deps: GatewayDeps): Koa {
  const upload = createMultipart(createUploadStorage(deps, (name) => discardUpload(deps, name)), deps.maxUploadBytes);
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
      const accepted = await acceptSubmission(deps, { jobId, jobType, fields, upload: stored });
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

  const router = createRouter();
  // Each route's budget, then its key: counted before the key is checked, so requests with a
  // wrong key spend their address's budget. `auth` is every route's but the submissions'.
  const submits = inTurn(deps.rateLimits.rest("submit"), requireApiKey(deps.apiKeys));
  const auth = inTurn(deps.rateLimits.rest("read"), requireApiKey(deps.apiKeys));
  router.post(`${JOBS_PATH}/verify`, submits, deps.sync.submission("verify", "async"), submit("verify"));
  router.post(`${JOBS_PATH}/proof`, submits, deps.sync.submission("proof", "async"), submit("proof"));
  router.post("/api/verify", submits, deps.sync.submission("verify", "sync"), submit("verify"));
  router.post("/api/proof", submits, deps.sync.submission("proof", "sync"), submit("proof"));
  const proxy = proxyToStatus(deps.statusUrl);
  router.get(JOBS_PATH, auth, proxy);
  router.get(`${JOBS_PATH}/stats`, auth, deps.sync.stats);
  router.get(`${JOBS_PATH}/:jobId`, auth, proxy);
  router.get(`${JOBS_PATH}/:jobId/history`, auth, proxy);
  router.post(`${JOBS_PATH}/:jobId/retry`, auth, proxy);
  router.get(DEAD_LETTERS_PATH, auth, proxy);
  router.get(`${DEAD_LETTERS_PATH}/:seq`, auth, proxy);
  router.post(`${DEAD_LETTERS_PATH}/:seq/replay`, auth, proxy);
  router.get(`${JOBS_PATH}/:jobId/events`, auth, proxyStreamToStatus(deps.statusUrl));
  const webhooks = proxyToWebhooks(deps.webhooksUrl);
  router.get(`${JOBS_PATH}/:jobId/deliveries`, auth, webhooks);
  router.post("/api/webhooks", auth, webhooks);
  router.get("/api/webhooks", auth, webhooks);
  router.get("/api/webhooks/:id", auth, webhooks);
  router.delete("/api/webhooks/:id", auth, webhooks);
  router.get("/api/webhooks/:id/deliveries", auth, webhooks);

  const app = new Koa({ proxy: deps.trustedProxyHops > 0, maxIpsCount: deps.trustedProxyHops });
  app.use(httpMetrics("gateway"));
  app.use(requestId());
  app.use(errorHandler(deps.log));
  app.use(router.routes());
  app.use(methodsNotAllowed(router));
  return app;
}

/** Two middlewares as one: `first`, then `second` when it calls next. */
const inTurn =
  (first: Middleware, second: Middleware): Middleware =>
  (ctx, next) =>
    first(ctx, () => second(ctx, next));

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
