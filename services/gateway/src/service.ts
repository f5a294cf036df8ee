import { Shutdown, defineService, type Logger, type RunningService } from "@veriflow/platform";
import { connectNats, ensureStreams, isStreamAvailable, openIdempotencyBucket, openUploadsBucket } from "@veriflow/nats";
import { listen, startOpsServer } from "@veriflow/http";
import { SUBMISSION_SERVICE, createGrpcServer, loadSubmissionServiceProto } from "@veriflow/grpc";
import { loadConfig, type GatewayConfig } from "./config.js";
import { createAdmission } from "./admission.js";
import { createFallbackPipeline } from "./fallback-pipeline.js";
import { createSubmissionHandlers } from "./grpc-submission.js";
import { createIdempotency } from "./idempotency.js";
import { createQueueHealth } from "./queue-health.js";
import { createGatewayApp } from "./routes.js";
import { createSyncSupport } from "./sync-routes.js";

/** The composition: NATS → streams and uploads bucket → HTTP app → ops endpoints. */
export async function startGatewayService(config: GatewayConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const nats = await connectNats({ ...config.nats, name: "veriflow-gateway", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology, { log });
  // Uploads are written to its stream directly (putUpload): opened here to create it, with its bounds.
  await openUploadsBucket(nats.js, config.topology, { log });
  const idempotency = createIdempotency(await openIdempotencyBucket(nats.js, config.idempotency, { log }), log);
  const admission = createAdmission({ jsm: nats.jsm, maxBacklog: config.maxBacklog, log });
  if (config.apiKeys.length === 0) log.warn("API_KEYS is empty: the job routes accept anonymous requests");

  const fallback = await createFallbackPipeline(config.stageEnv, log, undefined, config.fallbackConcurrency);
  shutdown.add("fallback", () => fallback.close());
  const health = createQueueHealth({ isConnected: () => nats.isConnected(), probe: () => isStreamAvailable(nats.jsm), log });
  shutdown.add("queue-health", () => health.close());
  const policy = { ...config.submission, webhookAllowedPrivateHosts: config.webhookAllowedPrivateHosts };
  const sync = createSyncSupport({
    nats,
    health,
    fallback,
    log,
    policy,
    maxUploadBytes: config.maxUploadBytes,
    syncTimeoutMs: config.syncTimeoutMs,
    statusUrl: config.statusUrl,
  });

  const app = createGatewayApp({
    js: nats.js,
    jsm: nats.jsm,
    log,
    policy,
    maxUploadBytes: config.maxUploadBytes,
    statusUrl: config.statusUrl,
    webhooksUrl: config.webhooksUrl,
    apiKeys: config.apiKeys,
    sync,
    admission,
    idempotency,
  });
  const http = await listen(app, config.port, config.host);
  shutdown.add("http", () => http.close());

  const { packageDefinition, proto } = loadSubmissionServiceProto();
  const grpcServer = createGrpcServer({ log, apiKeys: config.apiKeys, packageDefinition, serviceNames: [SUBMISSION_SERVICE], isReady: () => nats.isConnected() });
  grpcServer.addService(
    proto.veriflow.v1.SubmissionService.service,
    createSubmissionHandlers({ rpc: grpcServer.rpc, js: nats.js, jsm: nats.jsm, log, policy, maxUploadBytes: config.maxUploadBytes, health, fallback, syncTimeoutMs: config.syncTimeoutMs, admission, idempotency }),
  );
  const grpcHandle = await grpcServer.listen(config.grpcPort, config.host);
  shutdown.add("grpc", () => grpcHandle.close());
  const ops = await startOpsServer(config.opsPort, () => nats.isConnected());
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port }, "gateway ready");
  return { port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port, stop: () => shutdown.run() };
}

export const service = defineService({ name: "gateway", loadConfig, start: startGatewayService });
