import { startAuthentication } from "@veriflow/auth";
import { Shutdown, defineService, type Logger, type RunningService } from "@veriflow/platform";
import { connectPostgres, poolOptionsOf } from "@veriflow/pg";
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

/** The composition: PostgreSQL (API keys) → NATS → streams and uploads bucket → HTTP app → ops endpoints. */
export async function startGatewayService(config: GatewayConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  // Only the API keys live here: a key is looked up once per AUTH_CACHE_TTL_MS, so submissions
  // cost no query, and go on while PostgreSQL is away for keys seen before.
  const sql = connectPostgres(config.database.url, { ...poolOptionsOf(config.database), log, applicationName: "veriflow-gateway" });
  shutdown.add("postgres", () => sql.end({ timeout: 5 }));
  // A production service with no way in does not start: what it opened so far is closed.
  const { authenticator, stop: stopAuth } = await startAuthentication({ sql, config: config.auth, log }).catch(async (err: unknown) => {
    await shutdown.run();
    throw err;
  });
  shutdown.add("auth migrations", stopAuth);

  const nats = await connectNats({ url: config.natsUrl, name: "veriflow-gateway", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology, { log });
  const uploads = await openUploadsBucket(nats.js, config.topology, { log });
  const idempotency = createIdempotency(await openIdempotencyBucket(nats.js, config.idempotency, { log }), log);
  const admission = createAdmission({ jsm: nats.jsm, maxBacklog: config.maxBacklog, log });

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
    uploads,
    log,
    policy,
    maxUploadBytes: config.maxUploadBytes,
    statusUrl: config.statusUrl,
    webhooksUrl: config.webhooksUrl,
    authenticator,
    sql,
    sync,
    admission,
    idempotency,
  });
  const http = await listen(app, config.port, config.host);
  shutdown.add("http", () => http.close());

  const { packageDefinition, proto } = loadSubmissionServiceProto();
  const grpcServer = createGrpcServer({ log, authenticator, packageDefinition, serviceNames: [SUBMISSION_SERVICE], isReady: () => nats.isConnected() });
  grpcServer.addService(
    proto.veriflow.v1.SubmissionService.service,
    createSubmissionHandlers({ rpc: grpcServer.rpc, js: nats.js, jsm: nats.jsm, uploads, log, policy, maxUploadBytes: config.maxUploadBytes, health, fallback, syncTimeoutMs: config.syncTimeoutMs, admission, idempotency }),
  );
  const grpcHandle = await grpcServer.listen(config.grpcPort, config.host);
  shutdown.add("grpc", () => grpcHandle.close());
  const ops = await startOpsServer(config.opsPort, () => nats.isConnected());
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port }, "gateway ready");
  return { port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port, stop: () => shutdown.run() };
}

export const service = defineService({ name: "gateway", loadConfig, start: startGatewayService });
