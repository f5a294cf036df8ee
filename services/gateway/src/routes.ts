import Router from "@koa/router";
import Koa, { type Middleware } from "koa";
import { DEAD_LETTERS_PATH, JOBS_PATH, newJobId, type JobType } from "@veriflow/events";
import { errorHandler, httpMetrics, requestId, requireApiKey } from "@veriflow/http";
import type { Logger } from "@veriflow/platform";
import type { ObjectStore } from "@veriflow/nats";
import type { JetStreamClient } from "@nats-io/jetstream";
import { acceptSubmission } from "./accept-submission.js";
import { createMultipart, receiveUpload } from "./multipart.js";
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

export function createGatewayApp(deps: GatewayDeps): Koa {
  const upload = createMultipart(createUploadStorage(deps.uploads), deps.maxUploadBytes);

  const submit = (jobType: JobType): Middleware => async (ctx) => {
    // Preset by the sync middleware, which subscribes to the job's outcome before it is published.
    const jobId = (ctx.state.jobId as string | undefined) ?? newJobId();
    (ctx.req as RequestWithUpload)[UPLOAD_NAME] = jobId;
    const { file, fields } = await receiveUpload<StoredFile>(ctx, upload, deps.maxUploadBytes);
    const stored = { ...file, fileName: file.originalname || null, contentType: file.mimetype || null };
    const accepted = await acceptSubmission(deps, { jobId, jobType, fields, upload: stored });
    ctx.status = 202;
    ctx.set("location", accepted.pollUrl);
    ctx.body = { mode: "async", ...accepted };
  };

  const router = new Router();
  const auth = requireApiKey(deps.apiKeys);
  router.post(`${JOBS_PATH}/verify`, auth, deps.sync.submission("verify", "async"), submit("verify"));
  router.post(`${JOBS_PATH}/proof`, auth, deps.sync.submission("proof", "async"), submit("proof"));
  router.post("/api/verify", auth, deps.sync.submission("verify", "sync"), submit("verify"));
  router.post("/api/proof", auth, deps.sync.submission("proof", "sync"), submit("proof"));
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

  const app = new Koa();
  app.use(httpMetrics("gateway"));
  app.use(requestId());
  app.use(errorHandler(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
