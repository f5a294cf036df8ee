import { fileURLToPath } from "node:url";
import { observerConsumer } from "@veriflow/events";
import { JOB_SERVICE, createGrpcServer, loadJobServiceProto } from "@veriflow/grpc";
import { Shutdown, defineService, type Logger, type RunningService } from "@veriflow/platform";
import { connectNats, ensureConsumer, ensureStreams, findLastEvent, isStreamAvailable, runBatchConsumeLoop } from "@veriflow/nats";
import { createNotifier } from "./notify.js";
import { connectPostgres, isPostgresUnavailable, pingPostgres, runMigrations } from "@veriflow/pg";
import { listen, startOpsServer } from "@veriflow/http";
import { loadConfig, type StatusConfig } from "./config.js";
import { createJobServiceHandlers } from "./grpc-service.js";
import { createJobChanges } from "./job-changes.js";
import { createJobLoader } from "./load-job.js";
import { registerStatusMetrics } from "./metrics.js";
import { createStatusApp } from "./routes.js";
import { applyEvents } from "./store.js";

/** Migrations ship beside the build output: services/status/migrations. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));

/** The composition: Postgres (migrated) → NATS → projection loop → REST → ops endpoints. */
export async function startStatusService(config: StatusConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const sql = connectPostgres(config.databaseUrl, { max: config.databasePoolMax, log });
  shutdown.add("postgres", () => sql.end({ timeout: 5 }));
  await runMigrations(sql, MIGRATIONS_DIR);

  const nats = await connectNats({ url: config.natsUrl, name: "veriflow-status", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology);
  await ensureConsumer(nats.jsm, observerConsumer("status"), config.topology);

  // After each committed batch, every replica hears which jobs changed (SSE, WatchJob*).
  const changes = createJobChanges({ notifier: createNotifier(nats.nc, log), sql, log, pollMs: config.watchPollMs });
  shutdown.add("job changes", () => changes.stop());

  const loop = await runBatchConsumeLoop({
    nats,
    topology: config.topology,
    consumer: observerConsumer("status"),
    handleBatch: async (events) => changes.announce((await applyEvents(sql, events)).jobIds),
    isUnavailable: isPostgresUnavailable,
    maxAttempts: config.maxAttempts,
    log,
    maxBatch: config.maxBatch,
    backoff: config.backoff,
  });
  shutdown.add("projection", () => loop.stop());

  const findRequestedEvent = (jobId: string) => findLastEvent(nats.jsm, "verification.requested", jobId);
  const streamAvailable = () => (nats.isConnected() ? isStreamAvailable(nats.jsm) : Promise.resolve(false));
  const app = createStatusApp({
    sql,
    log,
    findRequestedEvent,
    isStreamAvailable: streamAvailable,
    changes,
    sseHeartbeatMs: config.sseHeartbeatMs,
  });
  const http = await listen(app, config.port, config.host);
  shutdown.add("http", () => http.close());

  const { packageDefinition, proto } = loadJobServiceProto();
  const grpcServer = createGrpcServer({
    log,
    apiKeys: config.apiKeys,
    packageDefinition,
    serviceNames: [JOB_SERVICE],
    isReady: async () => nats.isConnected() && (await pingPostgres(sql)),
  });
  grpcServer.addService(
    proto.veriflow.v1.JobService.service,
    createJobServiceHandlers({ rpc: grpcServer.rpc, sql, changes, loadJob: createJobLoader({ sql, log, findRequestedEvent }), isStreamAvailable: streamAvailable }),
  );
  const grpcHandle = await grpcServer.listen(config.grpcPort, config.host);
  shutdown.add("grpc", () => grpcHandle.close());

  registerStatusMetrics();
  // Ready while connected, projecting (its consumer exists and answers) and PostgreSQL answers.
  const ops = await startOpsServer(config.opsPort, async () => nats.isConnected() && loop.ready() && (await pingPostgres(sql)));
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port }, "status ready");
  return { port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port, stop: () => shutdown.run() };
}

export const service = defineService({ name: "status", loadConfig, start: startStatusService });
