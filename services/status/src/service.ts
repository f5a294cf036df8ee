import { startAuthentication } from "@veriflow/auth";
import { observerConsumer, type AnyEnvelope } from "@veriflow/events";
import { DEAD_LETTER_SERVICE, JOB_SERVICE, createGrpcServer, loadStatusProtos } from "@veriflow/grpc";
import { HttpError } from "@veriflow/errors";
import { Shutdown, defineService, type Logger, type RunningService } from "@veriflow/platform";
import {
  connectNats,
  countDeadLetters,
  ensureConsumer,
  ensureStreams,
  findJobTraceContext,
  findLastEvent,
  getDeadLetter,
  isNatsUnavailableError,
  isStreamAvailable,
  isUploadStored,
  listDeadLetters,
  readPipelineConsumers,
  publishEvents,
  replayDeadLetter,
  registerQueueMetrics,
  runBatchConsumeLoop,
} from "@veriflow/nats";
import { createNotifier } from "./notify.js";
import { connectPostgres, isDatabaseUnavailableError, pingPostgres, poolOptionsOf, startMigrations, startRetention, translateDatabaseError, withDatabase } from "@veriflow/pg";
import { listen, routesOf, startOpsServer } from "@veriflow/http";
import { loadConfig, type StatusConfig } from "./config.js";
import { createJobServiceHandlers } from "./grpc-service.js";
import { createJobChanges } from "./job-changes.js";
import { createJobLoader } from "./load-job.js";
import { observeJobDurations } from "./job-duration.js";
import { registerStatusMetrics } from "./metrics.js";
import { createStatusApp } from "./routes.js";
import { createWatchStop } from "./watch-routes.js";
import { statusPruneSteps } from "./retention.js";
import { createJobRetry } from "./retry-job.js";
import { createDeadLetters } from "./dead-letters.js";
import { createDeadLetterServiceHandlers } from "./grpc-dead-letters.js";
import { applyEvents } from "./store.js";
import { createBatchCompletionPublisher } from "./batch-completions.js";
import { schema } from "./schema.js";
import { context, inSpan, startTracing } from "@veriflow/tracing";

/** Migrations ship beside the build output: services/status/migrations (schema.ts). */
export const MIGRATIONS_DIR = schema.dir;

/**
 * The composition: Postgres (migrated, or migrating once it answers) → NATS → projection
 * loop → REST → ops endpoints. PostgreSQL being down does not stop the start: the edges
 * answer 503 E_DATABASE_UNAVAILABLE and the projection waits until it is back.
 */
export async function startStatusService(config: StatusConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const tracing = startTracing(config.tracing, "status", log);
  shutdown.add("tracing", () => tracing.stop());
  const sql = connectPostgres(config.database.url, { ...poolOptionsOf(config.database), log, applicationName: "veriflow-status" });
  shutdown.add("postgres", () => sql.end({ timeout: 5 }));
  const db = await startMigrations(sql, MIGRATIONS_DIR, { log });
  shutdown.add("migrations", () => db.stop());
  // A production service with no way in does not start: what it opened so far is closed.
  const { authenticator, stop: stopAuth } = await startAuthentication({ sql, config: config.auth, log }).catch(async (err: unknown) => {
    await shutdown.run();
    throw err;
  });
  shutdown.add("auth migrations", stopAuth);
  const databaseReady = async () => db.isReady() && (await pingPostgres(sql));
  const retention = startRetention({ ...config.retention, steps: statusPruneSteps(sql, config.retention), log, isReady: db.isReady });
  shutdown.add("retention", () => retention.stop());

  const nats = await connectNats({ ...config.nats, name: "veriflow-status", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology, { log });
  await ensureConsumer(nats.jsm, observerConsumer("status"), config.topology, {}, { log });

  // After each committed batch, every replica hears which jobs changed (SSE, WatchJob*).
  const changes = createJobChanges({ notifier: createNotifier(nats.nc, log), sql, log, pollMs: config.watchPollMs, maxWatches: config.maxWatches });
  shutdown.add("job changes", () => changes.stop());

  const publishBatchCompletions = createBatchCompletionPublisher({ sql, log, publish: async (events) => void (await publishEvents(nats.js, events)) });

  const loop = await runBatchConsumeLoop({
    nats,
    topology: config.topology,
    consumer: observerConsumer("status"),
    // While PostgreSQL is away the batch fails as transient and comes back after the backoff.
    handleBatch: withDatabase(db, async (events) => {
      const applied = await inSpan("status apply batch", dbBatch(events.length), () => applyEvents(sql, events));
      changes.announce(applied.jobIds);
      observeJobDurations(applied.ended);
      // Before the ack: a completion committed here goes out now, or with a later batch.
      await publishBatchCompletions();
    }),
    isUnavailable: isDatabaseUnavailableError,
    maxAttempts: config.maxAttempts,
    log,
    maxBatch: config.maxBatch,
    lingerMs: config.batchLingerMs,
    backoff: config.backoff,
    tracing,
  });
  shutdown.add("projection", () => loop.stop());

  const findRequestedEvent = (jobId: string) => findLastEvent(nats.jsm, "verification.requested", jobId);
  const streamAvailable = () => (nats.isConnected() ? isStreamAvailable(nats.jsm) : Promise.resolve(false));
  const retryJob = createJobRetry({
    sql,
    log,
    publish: async (event) => {
      // The new run goes on in the job's trace (its request's traceparent, read from the stream), else the retry request's.
      const jobTrace = await findJobTraceContext(nats.jsm, event.correlationId).catch(() => null);
      await streamCall(() => publishEvents(nats.js, [event], jobTrace ?? context.active()));
    },
    isUploadStored: (upload) => streamCall(() => isUploadStored(nats.jsm, upload)),
  });
  const deadLetters = createDeadLetters(
    {
      list: (query) => streamCall(() => listDeadLetters(nats.jsm, query)),
      count: () => streamCall(() => countDeadLetters(nats.jsm)),
      get: (seq) => streamCall(() => getDeadLetter(nats.jsm, seq)),
      replay: (seq) => streamCall(() => replayDeadLetter(nats.js, nats.jsm, seq)),
    },
    log,
  );
  const publishWatchStop = (event: AnyEnvelope) => streamCall(() => publishEvents(nats.js, [event])).then(() => undefined);
  const stopWatch = createWatchStop({ sql, log, loadJob: createJobLoader({ sql, log, findRequestedEvent }), publish: publishWatchStop });
  const app = createStatusApp({
    sql,
    log,
    findRequestedEvent,
    isStreamAvailable: streamAvailable,
    changes,
    sseHeartbeatMs: config.sseHeartbeatMs,
    database: db,
    retryJob,
    publishWatchStop,
    deadLetters,
    pipeline: {
      consumers: () => streamCall(() => readPipelineConsumers(nats.jsm)),
      deadLetters: () => streamCall(() => countDeadLetters(nats.jsm)),
    },
    authenticator,
    tracing,
  });
  const http = await listen(app, config.port, config.host, config.http);
  shutdown.add("http", () => http.close());

  const { packageDefinition, proto } = loadStatusProtos();
  const grpcServer = createGrpcServer({
    log,
    authenticator,
    packageDefinition,
    serviceNames: [JOB_SERVICE, DEAD_LETTER_SERVICE],
    isReady: async () => nats.isConnected() && (await databaseReady()),
    translateError: (err) => translateDatabaseError(err, db),
    limits: config.grpc,
    tracing,
  });
  grpcServer.addService(
    proto.veriflow.v1.JobService.service,
    createJobServiceHandlers({
      rpc: grpcServer.rpc,
      sql,
      changes,
      loadJob: createJobLoader({ sql, log, findRequestedEvent }),
      isStreamAvailable: streamAvailable,
      retryJob,
      stopWatch,
      watchMaxBuffered: config.watchMaxBuffered,
    }),
  );
  grpcServer.addService(
    proto.veriflow.v1.DeadLetterService.service,
    createDeadLetterServiceHandlers(grpcServer.rpc, deadLetters),
  );
  const grpcHandle = await grpcServer.listen(config.grpcPort, config.host);
  shutdown.add("grpc", () => grpcHandle.close());

  registerStatusMetrics();
  // The whole pipeline's queue, read on scrape: see queue-metrics.ts for why status exports it.
  registerQueueMetrics(nats.jsm, log);
  // Ready while connected, projecting (its consumer exists and answers) and PostgreSQL answers.
  const ops = await startOpsServer(config, async () => nats.isConnected() && loop.ready() && (await databaseReady()));
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port }, "status ready");
  return { port: http.port, grpcPort: grpcHandle.port, opsPort: ops.port, routes: routesOf(app), stop: () => shutdown.run() };
}

/** A call to JetStream whose failure to answer is the client's 503 E_STREAM_UNAVAILABLE. */
async function streamCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!isNatsUnavailableError(err)) throw err;
    throw new HttpError("E_STREAM_UNAVAILABLE", "the event stream (NATS JetStream) did not answer; try again shortly", { cause: err, expose: true });
  }
}

export const service = defineService({ name: "status", loadConfig, start: startStatusService });

/** A database batch's span attributes. */
const dbBatch = (size: number) => ({ attributes: { "db.system.name": "postgresql", "db.operation.name": "apply events", "db.operation.batch.size": size } });
