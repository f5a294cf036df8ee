import Router from "@koa/router";
import multer from "@koa/multer";
import Koa, { type Middleware } from "koa";
import { createRequestEvent, newJobId, UPLOADS_BUCKET, type JobType } from "@veriflow/events";
import { HttpError, errorHandler, httpMetrics, publishEvents, requestId, type Logger, type ObjectStore } from "@veriflow/platform";
import type { JetStreamClient } from "@nats-io/jetstream";
import { requireApiKey } from "./auth.js";
import { proxyToStatus } from "./status-proxy.js";
import { parseSubmission, type SubmissionPolicy } from "./submission.js";
import { UPLOAD_NAME, createUploadStorage, type RequestWithUpload, type StoredFile } from "./upload-storage.js";

export interface GatewayDeps {
  js: JetStreamClient;
  uploads: ObjectStore;
  log: Logger;
  policy: SubmissionPolicy;
  maxUploadBytes: number;
  statusUrl: string;
  apiKeys: string[];
}

const JOBS = "/api/verification-jobs";

/** Maps multer's limit errors to 4xx answers a client can act on. */
function uploadError(err: unknown, maxUploadBytes: number): unknown {
  const code = (err as { code?: string }).code;
  if (code === "LIMIT_FILE_SIZE") return new HttpError(413, "E_FILE_TOO_LARGE", `the file is larger than the ${maxUploadBytes}-byte limit`);
  if (code === "LIMIT_UNEXPECTED_FILE") return new HttpError(400, "E_UNEXPECTED_FILE", 'send exactly one file, in the field named "file"');
  if (typeof code === "string" && code.startsWith("LIMIT_")) return new HttpError(400, "E_BAD_MULTIPART", `multipart limit exceeded: ${(err as Error).message}`);
  if (err instanceof Error && /Unexpected end of form|Malformed part header|Multipart: Boundary not found/i.test(err.message)) {
    return new HttpError(400, "E_BAD_MULTIPART", `the multipart body is malformed: ${err.message}`);
  }
  if (err instanceof Error && /request aborted/i.test(err.message)) return new HttpError(400, "E_UPLOAD_ABORTED", "the upload was aborted before it finished");
  return new HttpError(503, "E_STORAGE_UNAVAILABLE", "the upload could not be stored; try again shortly", { cause: err, expose: true });
}

export function createGatewayApp(deps: GatewayDeps): Koa {
  const upload = multer({
    storage: createUploadStorage(deps.uploads),
    limits: { fileSize: deps.maxUploadBytes, files: 1, fields: 16, fieldSize: 16 * 1024, parts: 24 },
  });

  const submit = (jobType: JobType): Middleware => async (ctx) => {
    if (!ctx.is("multipart/form-data")) {
      throw new HttpError(415, "E_UNSUPPORTED_MEDIA_TYPE", 'send multipart/form-data with a "file" part and the fields registryAddress, manifestURI');
    }
    const jobId = newJobId();
    (ctx.req as RequestWithUpload)[UPLOAD_NAME] = jobId;
    try {
      await upload.single("file")(ctx, async () => {});
    } catch (err) {
      throw uploadError(err, deps.maxUploadBytes);
    }
    const file = ctx.file as unknown as (StoredFile & { originalname: string; mimetype: string }) | undefined;
    if (!file) throw new HttpError(400, "E_FILE_REQUIRED", 'a file is required in the multipart field "file"');

    let event;
    try {
      const request = parseSubmission(jobType, ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown>, deps.policy);
      event = createRequestEvent(jobId, {
        jobId,
        request,
        upload: { bucket: UPLOADS_BUCKET, name: file.objectName, size: file.size, fileName: file.originalname || null, contentType: file.mimetype || null },
      });
      // Acknowledged by JetStream before we answer: the job exists once the client hears of it.
      await publishEvents(deps.js, [event]);
    } catch (err) {
      await deps.uploads.delete(file.objectName).catch(() => {});
      if (err instanceof HttpError) throw err;
      throw new HttpError(503, "E_QUEUE_UNAVAILABLE", "the verification queue is not reachable; try again shortly", { cause: err, expose: true });
    }
    deps.log.info({ jobId, jobType, size: file.size }, "accepted");
    const pollUrl = `${JOBS}/${jobId}`;
    ctx.status = 202;
    ctx.set("location", pollUrl);
    ctx.body = { mode: "async", jobId, status: "queued", message: `${jobType === "proof" ? "Proof" : "Verification"} job queued successfully`, pollUrl };
  };

  const router = new Router();
  const auth = requireApiKey(deps.apiKeys);
  router.post(`${JOBS}/verify`, auth, submit("verify"));
  router.post(`${JOBS}/proof`, auth, submit("proof"));
  const proxy = proxyToStatus(deps.statusUrl);
  router.get(JOBS, auth, proxy);
  router.get(`${JOBS}/stats`, auth, proxy);
  router.get(`${JOBS}/:jobId`, auth, proxy);
  router.get(`${JOBS}/:jobId/history`, auth, proxy);

  const app = new Koa();
  app.use(httpMetrics("gateway"));
  app.use(requestId());
  app.use(errorHandler(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
