import { startAuthentication } from "@veriflow/auth";
import { createGuardedAgent } from "@veriflow/adapters";
import { observerConsumer } from "@veriflow/events";
import { Shutdown, defineService, type Logger, type RunningService } from "@veriflow/platform";
import { connectNats, ensureConsumer, ensureStreams, findJobEnding, findLastEvent, isNatsUnavailableError, runBatchConsumeLoop } from "@veriflow/nats";
import { connectPostgres, isDatabaseUnavailableError, pingPostgres, poolOptionsOf, startMigrations, startRetention, withDatabase } from "@veriflow/pg";
import { listen, routesOf, startOpsServer } from "@veriflow/http";
import { loadConfig, type WebhooksConfig } from "./config.js";
import { startDeliveryWorker, type DeliveryWorker } from "./delivery-worker.js";
import { createDeliverySecrets, sealClearSecrets } from "./delivery-secrets.js";
import { createEventIntake } from "./event-intake.js";
import { schema } from "./schema.js";
import { registerWebhooksMetrics } from "./metrics.js";
import { createWebhooksApp } from "./routes.js";
import { readDeliveryBacklog } from "./store.js";
import { webhooksPruneSteps } from "./retention.js";
import { createSecretBox } from "./secret-box.js";
import { createSigningSecrets } from "./signing-secrets.js";
import { startTracing } from "@veriflow/tracing";

/** Migrations ship beside the build output: services/webhooks/migrations (schema.ts). */
export const MIGRATIONS_DIR = schema.dir;
/** Its own record of applied migrations: the database server may be shared with status. */
export const MIGRATIONS_TABLE = schema.table;

/**
 * The composition: Postgres (migrated, or migrating once it answers) → delivery worker →
 * NATS consumer → REST → ops endpoints. PostgreSQL being down does not stop the start: the
 * REST API answers 503 E_DATABASE_UNAVAILABLE, the consumer waits, and the delivery worker
 * starts once the migrations are applied.
 */
export async function startWebhooksService(config: WebhooksConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const tracing = startTracing(config.tracing, "webhooks", log);
  shutdown.add("tracing", () => tracing.stop());
  if (config.secretsKeyIsPublic) log.warn("WEBHOOK_SECRETS_KEY is unset: webhook secrets are sealed with the public development key (set it outside development)");
  const box = createSecretBox(config.secretsKey);

  const sql = connectPostgres(config.database.url, { ...poolOptionsOf(config.database), log, applicationName: "veriflow-webhooks" });
  shutdown.add("postgres", () => sql.end({ timeout: 5 }));
  const db = await startMigrations(sql, MIGRATIONS_DIR, { log, table: MIGRATIONS_TABLE });
  shutdown.add("migrations", () => db.stop());
  // A production service with no way in does not start: what it opened so far is closed.
  const { authenticator, stop: stopAuth } = await startAuthentication({ sql, config: config.auth, log }).catch(async (err: unknown) => {
    await shutdown.run();
    throw err;
  });
  shutdown.add("auth migrations", stopAuth);
  const signingSecrets = createSigningSecrets({ sql, box, defaultSeed: config.signingSecret });
  const retention = startRetention({ ...config.retention, steps: webhooksPruneSteps(sql, config.retention), log, isReady: db.isReady });
  shutdown.add("retention", () => retention.stop());

  const agent = createGuardedAgent({ allowedPrivateHosts: config.allowedPrivateHosts, connectTimeoutMs: Math.min(config.timeoutMs, 10_000) });
  shutdown.add("http agent", () => agent.close());
  let worker: DeliveryWorker | undefined;
  let stopping = false;
  const workerStarted = db.ready.then(async () => {
    if (stopping || !db.isReady()) return;
    // Secrets kept in clear before they were sealed; a failure here leaves them for the next start.
    await sealClearSecrets(sql, box, log).catch((err: unknown) => log.error({ err }, "webhook secrets not sealed"));
    if (stopping) return;
    worker = startDeliveryWorker({
      sql,
      dispatcher: agent,
      log,
      secretsFor: createDeliverySecrets(box, signingSecrets),
      concurrency: config.concurrency,
      timeoutMs: config.timeoutMs,
      retryScheduleMs: config.retryScheduleMs,
      pollIntervalMs: config.pollIntervalMs,
    });
  });
  shutdown.add("delivery worker", async () => {
    stopping = true;
    db.stop();
    await workerStarted;
    await worker?.stop();
  });

  const nats = await connectNats({ ...config.nats, name: "veriflow-webhooks", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology, { log });
  await ensureConsumer(nats.jsm, observerConsumer("webhooks"), config.topology, {}, { log });
  const loop = await runBatchConsumeLoop({
    nats,
    topology: config.topology,
    consumer: observerConsumer("webhooks"),
    handleBatch: withDatabase(
      db,
      createEventIntake({
        sql,
        log,
        maxAgeMs: config.maxAgeMs,
        findJobEnding: (jobId, fromRun) => findJobEnding(nats.jsm, jobId, fromRun),
        findJobRequest: (jobId) => findLastEvent(nats.jsm, "verification.requested", jobId),
        onNewDeliveries: () => worker?.wake(),
      }),
    ),
    // The intake reads late jobs' endings from the stream: NATS down only delays a batch too.
    isUnavailable: (err) => isDatabaseUnavailableError(err) || isNatsUnavailableError(err),
    maxAttempts: config.intakeMaxAttempts,
    log,
    maxBatch: config.maxBatch,
    lingerMs: config.batchLingerMs,
    backoff: config.backoff,
    tracing,
  });
  shutdown.add("consumer", () => loop.stop());

  const app = createWebhooksApp({ sql, log, allowedPrivateHosts: config.allowedPrivateHosts, database: db, authenticator, box, signingSecrets, tracing });
  const http = await listen(app, config.port, config.host, config.http);
  shutdown.add("http", () => http.close());

  registerWebhooksMetrics(() => readDeliveryBacklog(sql), log);
  const ops = await startOpsServer(config, async () => nats.isConnected() && loop.ready() && db.isReady() && (await pingPostgres(sql)));
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, opsPort: ops.port }, "webhooks ready");
  return { port: http.port, opsPort: ops.port, routes: routesOf(app), stop: () => shutdown.run() };
}

export const service = defineService({ name: "webhooks", loadConfig, start: startWebhooksService });
