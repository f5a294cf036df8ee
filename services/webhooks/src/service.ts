import { fileURLToPath } from "node:url";
import { createGuardedAgent } from "@veriflow/adapters";
import { observerConsumer } from "@veriflow/events";
import { Shutdown, defineService, type Logger, type RunningService } from "@veriflow/platform";
import { connectNats, ensureConsumer, ensureStreams, runBatchConsumeLoop } from "@veriflow/nats";
import { connectPostgres, isPostgresUnavailable, pingPostgres, runMigrations } from "@veriflow/pg";
import { listen, startOpsServer } from "@veriflow/http";
import { loadConfig, type WebhooksConfig } from "./config.js";
import { startDeliveryWorker } from "./delivery-worker.js";
import { createEventIntake } from "./event-intake.js";
import { registerWebhooksMetrics } from "./metrics.js";
import { createWebhooksApp } from "./routes.js";
import { generateWebhookSecret } from "./signature.js";

/** Migrations ship beside the build output: services/webhooks/migrations. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));
/** Its own record of applied migrations: the database server may be shared with status. */
export const MIGRATIONS_TABLE = "webhook_schema_migrations";

/** The composition: Postgres (migrated) → delivery worker → NATS consumer → REST → ops endpoints. */
export async function startWebhooksService(config: WebhooksConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  let signingSecret = config.signingSecret;
  if (signingSecret === null) {
    signingSecret = generateWebhookSecret();
    log.warn("WEBHOOK_SIGNING_SECRET is unset: job callbacks are signed with a secret made up for this process (set it to verify them)");
  }

  const sql = connectPostgres(config.databaseUrl, { max: config.databasePoolMax, log, applicationName: "veriflow-webhooks" });
  shutdown.add("postgres", () => sql.end({ timeout: 5 }));
  await runMigrations(sql, MIGRATIONS_DIR, { log, table: MIGRATIONS_TABLE });

  const agent = createGuardedAgent({ allowedPrivateHosts: config.allowedPrivateHosts, connectTimeoutMs: Math.min(config.timeoutMs, 10_000) });
  shutdown.add("http agent", () => agent.close());
  const worker = startDeliveryWorker({
    sql,
    dispatcher: agent,
    log,
    signingSecret,
    concurrency: config.concurrency,
    timeoutMs: config.timeoutMs,
    retryScheduleMs: config.retryScheduleMs,
    pollIntervalMs: config.pollIntervalMs,
  });
  shutdown.add("delivery worker", () => worker.stop());

  const nats = await connectNats({ url: config.natsUrl, name: "veriflow-webhooks", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology);
  await ensureConsumer(nats.jsm, observerConsumer("webhooks"), config.topology);
  const loop = await runBatchConsumeLoop({
    nats,
    topology: config.topology,
    consumer: observerConsumer("webhooks"),
    handleBatch: createEventIntake({ sql, log, maxAgeMs: config.maxAgeMs, onNewDeliveries: () => worker.wake() }),
    isUnavailable: isPostgresUnavailable,
    maxAttempts: config.intakeMaxAttempts,
    log,
    maxBatch: config.maxBatch,
    backoff: config.backoff,
  });
  shutdown.add("consumer", () => loop.stop());

  const app = createWebhooksApp({ sql, log, allowedPrivateHosts: config.allowedPrivateHosts });
  const http = await listen(app, config.port, config.host);
  shutdown.add("http", () => http.close());

  registerWebhooksMetrics();
  const ops = await startOpsServer(config.opsPort, async () => nats.isConnected() && loop.ready() && (await pingPostgres(sql)));
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, opsPort: ops.port }, "webhooks ready");
  return { port: http.port, opsPort: ops.port, stop: () => shutdown.run() };
}

export const service = defineService({ name: "webhooks", loadConfig, start: startWebhooksService });
