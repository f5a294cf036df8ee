import Router from "@koa/router";
import multer from "@koa/multer";
import Koa, { type Middleware } from "koa";
import { newJobId, type JobType } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import { errorHandler, httpMetrics, requestId } from "@veriflow/http";
import type { Logger } from "@veriflow/platform";
import type { ObjectStore } from "@veriflow/nats";
import type { JetStreamClient } from "@nats-io/jetstream";
import { acceptSubmission } from "./accept-submission.js";
import { requireApiKey } from "./auth.js";
import { proxyStreamToStatus, proxyToStatus } from "./status-proxy.js";
import type { SyncSupport } from "./sync-routes.js";
import { proxyToWebhooks } from "./webhooks-proxy.js";
import type { SubmissionPolicy } from "./submission.js";
import { UPLOAD_NAME, createUploadStorage, type RequestWithUpload, type StoredFile } from "./upload-storage.js";

export interface GatewayDeps {
  js: JetStreamClient;
  uploads: ObjectStore;
  log: Logger;
  policy: SubmissionPolicy;
  maxUploadBytes: number;
  statusUrl: string;
  /** Where the webhooks service answers /api/webhooks and a job's callback deliveries. */
  webhooksUrl: string;
  apiKeys: string[];
  /** Synchronous answers (/api/verify, ?wait=) and the in-process fallback while the queue is down. */
  sync: SyncSupport;
}

const JOBS = "/api/verification-jobs";

/**
 * multer's own errors are MulterError with a `code` (LIMIT_FILE_SIZE, LIMIT_UNEXPECTED_FILE,
 * other LIMIT_*, MISSING_FIELD_NAME, INVALID_FIELD_NAME, STREAM_DESTROYED). Its class is not
 * in the typings we have (@types/koa__multer), so it is known by the name multer gives it.
 */
function multerCode(err: unknown): string | undefined {
  const e = err as { name?: unknown; code?: unknown } | null;
  return err instanceof Error && e?.name === "MulterError" && typeof e.code === "string" ? e.code : undefined;
}

/**
 * busboy (under multer) rejects a malformed body with a plain Error and nothing but a
 * message, and multer reports a request that ended early the same way; these messages
 * are the only way to tell them from a storage failure, so they are matched here and
 * nowhere else (busboy 1.6 lib/types/multipart.js and lib/index.js, multer 2 make-middleware.js).
 */
const BUSBOY_MALFORMED = new Set([
  "Unexpected end of form",
  "Unexpected end of file",
  "Malformed part header",
  "Multipart: Boundary not found",
  "Malformed content type",
]);
const MULTER_ABORTED = new Set(["Request aborted", "Request closed"]);

/** Maps what multer, busboy or the storage engine rejected an upload with to an answer a client can act on. */
export function uploadError(err: unknown, maxUploadBytes: number): unknown {
  const code = multerCode(err);
  if (code === "LIMIT_FILE_SIZE") return new HttpError("E_FILE_TOO_LARGE", `the file is larger than the ${maxUploadBytes}-byte limit`);
  if (code === "LIMIT_UNEXPECTED_FILE") return new HttpError("E_UNEXPECTED_FILE", 'send exactly one file, in the field named "file"');
  if (code === "STREAM_DESTROYED") return new HttpError("E_UPLOAD_ABORTED", "the upload was aborted before it finished");
  if (code?.startsWith("LIMIT_")) return new HttpError("E_BAD_MULTIPART", `multipart limit exceeded: ${(err as Error).message}`);
  if (code !== undefined) return new HttpError("E_BAD_MULTIPART", `the multipart body is malformed: ${(err as Error).message}`);
  if (err instanceof Error && BUSBOY_MALFORMED.has(err.message)) {
    return new HttpError("E_BAD_MULTIPART", `the multipart body is malformed: ${err.message}`);
  }
  if (err instanceof Error && MULTER_ABORTED.has(err.message)) return new HttpError("E_UPLOAD_ABORTED", "the upload was aborted before it finished");
  return new HttpError("E_STORAGE_UNAVAILABLE", "the upload could not be stored; try again shortly", { cause: err, expose: true });
}

export function createGatewayApp(deps: GatewayDeps): Koa {
  const upload = multer({
    storage: createUploadStorage(deps.uploads),
    limits: { fileSize: deps.maxUploadBytes, files: 1, fields: 16, fieldSize: 16 * 1024, parts: 24 },
  });

  const submit = (jobType: JobType): Middleware => async (ctx) => {
    if (!ctx.is("multipart/form-data")) {
      throw new HttpError("E_UNSUPPORTED_MEDIA_TYPE", 'send multipart/form-data with a "file" part and the fields registryAddress, manifestURI');
    }
    // Preset by the sync middleware, which subscribes to the job's outcome before it is published.
    const jobId = (ctx.state.jobId as string | undefined) ?? newJobId();
    (ctx.req as RequestWithUpload)[UPLOAD_NAME] = jobId;
    try {
      await upload.single("file")(ctx, async () => {});
    } catch (err) {
      throw uploadError(err, deps.maxUploadBytes);
    }
    const file = ctx.file as unknown as (StoredFile & { originalname: string; mimetype: string }) | undefined;
    if (!file) throw new HttpError("E_FILE_REQUIRED", 'a file is required in the multipart field "file"');

    const fields = ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown>;
    const stored = { ...file, fileName: file.originalname || null, contentType: file.mimetype || null };
    const accepted = await acceptSubmission(deps, { jobId, jobType, fields, upload: stored });
    ctx.status = 202;
    ctx.set("location", accepted.pollUrl);
    ctx.body = { mode: "async", ...accepted };
  };

  const router = new Router();
  const auth = requireApiKey(deps.apiKeys);
  router.post(`${JOBS}/verify`, auth, deps.sync.submission("verify", "async"), submit("verify"));
  router.post(`${JOBS}/proof`, auth, deps.sync.submission("proof", "async"), submit("proof"));
  router.post("/api/verify", auth, deps.sync.submission("verify", "sync"), submit("verify"));
  router.post("/api/proof", auth, deps.sync.submission("proof", "sync"), submit("proof"));
  const proxy = proxyToStatus(deps.statusUrl);
  router.get(JOBS, auth, proxy);
  router.get(`${JOBS}/stats`, auth, deps.sync.stats);
  router.get(`${JOBS}/:jobId`, auth, proxy);
  router.get(`${JOBS}/:jobId/history`, auth, proxy);
  router.get(`${JOBS}/:jobId/events`, auth, proxyStreamToStatus(deps.statusUrl));
  const webhooks = proxyToWebhooks(deps.webhooksUrl);
  router.get(`${JOBS}/:jobId/deliveries`, auth, webhooks);
  router.post("/api/webhooks", auth, webhooks);
  router.get("/api/webhooks", auth, webhooks);
  router.get("/api/webhooks/:id", auth, webhooks);
  router.delete("/api/webhooks/:id", auth, webhooks);
  router.get("/api/webhooks/:id/deliveries", auth, webhooks);

  const app = new Koa();
  app.use(httpMetrics("gateway"));
  app.use(requestId());
  app.use(errorHandler(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
