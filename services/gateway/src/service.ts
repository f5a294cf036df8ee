import { startAuthentication } from "@veriflow/auth";
import { Shutdown, defineService, type Logger, type RunningService } from "@veriflow/platform";
import { connectPostgres, poolOptionsOf } from "@veriflow/pg";
import { connectNats, createStreamProbe, ensureStreams, openIdempotencyBucket, startHold, openRateLimitBucket, openUploadsBucket, type NatsClients } from "@veriflow/nats";
import { listen, routesOf, startOpsServer } from "@veriflow/http";
import { SUBMISSION_SERVICE, createGrpcServer, loadSubmissionServiceProto } from "@veriflow/grpc";
import { loadConfig, type GatewayConfig } from "./config.js";
import { createAdmission } from "./admission.js";
import { createFallbackPipeline } from "./fallback-pipeline.js";
import { createSubmissionHandlers } from "./grpc-submission.js";
import { createIdempotency } from "./idempotency.js";
import { identifyByKey } from "./client-identity.js";
import { registerGatewayMetrics } from "./metrics.js";
import { limitsOfTenant, type RateLimitConfig } from "./rate-limit-config.js";
import { createRateLimitEdges } from "./rate-limit-edges.js";
import { createRateLimiter, type RateLimiter } from "./rate-limiter.js";
import { createQueueHealth } from "./queue-health.js";
import { createGatewayApp } from "./routes.js";
import { loadDashboard } from "./dashboard.js";
import { createBulkYield } from "./bulk-yield.js";
import { createSyncSupport } from "./sync-routes.js";
import { startTracing } from "@veriflow/tracing";

/** The composition: PostgreSQL (API keys) → NATS → streams and uploads bucket → HTTP app → ops endpoints. */
export async function startGatewayService(config: GatewayConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const tracing = startTracing(config.tracing, "gateway", log);
  shutdown.add("tracing", () => tracing.stop());
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

  const nats = await connectNats({ ...config.nats, name: "veriflow-gateway", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology, { log });
  // Uploads are written to its stream directly (putUpload): opened here to create it, with its bounds.
  await openUploadsBucket(nats.js, config.topology, { log });
  const idempotency = createIdempotency(await openIdempotencyBucket(nats.js, config.idempotency, { log }), log);
  const admission = createAdmission({ jsm: nats.jsm, maxBacklog: config.maxBacklog, log });
  registerGatewayMetrics();
  const limiter = config.rateLimits && (await startRateLimiter(nats, config.rateLimits, config.topology.replicas, log));
  if (limiter) shutdown.add("rate-limiter", () => limiter.close());
  else log.warn("RATE_LIMITS=off: requests are not rate limited");
  const rateLimits = createRateLimitEdges({
    limiter,
    identify: identifyByKey(authenticator),
    budgetOfMethod: (method) => (method.startsWith(`/${SUBMISSION_SERVICE}/`) ? "submit" : "read"),
  });

  const fallback = await createFallbackPipeline(config.stageEnv, log, undefined, config.fallbackConcurrency);
  shutdown.add("fallback", () => fallback.close());
  // Probed every 500 ms, each probe waiting 1 s at most: the pipeline is used again within about a second of the stream answering.
  const health = createQueueHealth({ isConnected: () => nats.isConnected(), disconnectedAt: () => nats.disconnectedAt(), probe: await createStreamProbe(nats.nc, 1000), probeEveryMs: 500, log });
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

  // What REST and gRPC submissions share: where uploads and requests go, and the rules they meet.
  const submissions = {
    js: nats.js,
    jsm: nats.jsm,
    nc: nats.nc,
    log,
    policy,
    maxUploadBytes: config.maxUploadBytes,
    admission,
    idempotency,
    startHold: () => startHold(config.hold, log),
    bulkYield: createBulkYield(),
  };
  const batchLimits = { maxFiles: config.maxBatchFiles, maxBytes: config.maxBatchBytes, maxUploadBytes: config.maxUploadBytes };
  const app = createGatewayApp({
    ...submissions,
    batchLimits,
    statusUrl: config.statusUrl,
    webhooksUrl: config.webhooksUrl,
    authenticator,
    sql,
    sync,
    rateLimits,
    trustedProxyHops: config.trustedProxyHops,
    dashboard: await loadDashboard(config.dashboardDir, log),
    tracing,
  });
  const http = await listen(app, config.port, config.host, config.http);
  shutdown.add("http", () => http.close());

  const { packageDefinition, proto } = loadSubmissionServiceProto();
  const grpcServer = createGrpcServer({
    log,
    authenticator,
    packageDefinition,
    serviceNames: [SUBMISSION_SERVICE],
    isReady: () => nats.isConnected(),
    limit: rateLimits.grpc,
    limits: config.grpc,
    tracing,
  });
  grpcServer.addService(
    proto.veriflow.v1.SubmissionService.service,
    createSubmissionHandlers({
      ...submissions,
      batchLimits,
      rpc: grpcServer.rpc,
      uploadIdleTimeoutMs: config.grpc.uploadIdleTimeoutMs,
      health,
      fallback,
      syncTimeoutMs: config.syncTimeoutMs,
    }),
  );
  const grpcHandle = await grpcServer.listen(config.grpcPort, config.host);
  shutdown.add("grpc", () => grpcHandle.close());
  const ops = await startOpsServer(config, () => nats.isConnected());
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port }, "gateway ready");
  return { port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port, routes: routesOf(app), stop: () => shutdown.run() };
}

/** Counters in KV outlive their window by this much, so clocks a little apart never lose one mid-window. */
const COUNTER_MAX_AGE_MARGIN_MS = 30_000;
/** Bound on a counter's read or write: a request that needs a new slice waits at most this long. */
const COUNTER_TIMEOUT_MS = 1000;

async function startRateLimiter(nats: NatsClients, config: RateLimitConfig, replicas: number, log: Logger): Promise<RateLimiter> {
  const kv = await openRateLimitBucket(
    nats.nc,
    { maxAgeMs: config.windowMs + COUNTER_MAX_AGE_MARGIN_MS, maxBytes: config.maxBytes, replicas, timeoutMs: COUNTER_TIMEOUT_MS },
    { log },
  );
  log.info({ windowMs: config.windowMs, perKey: config.perKey, perIp: config.perIp, tenants: Object.fromEntries(config.tenants) }, "rate limits");
  return createRateLimiter({ kv, windowMs: config.windowMs, limitsOfTenant: limitsOfTenant(config), perIp: config.perIp, isConnected: () => nats.isConnected(), log });
}

export const service = defineService({ name: "gateway", loadConfig, start: startGatewayService });
