import { fileURLToPath } from "node:url";
import { consumers } from "@veriflow/events";
import {
  Shutdown,
  connectNats,
  connectPostgres,
  ensureConsumer,
  ensureStreams,
  findLastEvent,
  isStreamAvailable,
  listen,
  pingPostgres,
  runBatchConsumeLoop,
  runMigrations,
  startOpsServer,
  type Logger,
  type RunningService,
} from "@veriflow/platform";
import type { StatusConfig } from "./config.js";
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
  await ensureConsumer(nats.jsm, consumers.status, config.topology);

  const loop = await runBatchConsumeLoop({
    js: nats.js,
    consumer: consumers.status,
    handleBatch: async (events) => void (await applyEvents(sql, events)),
    log,
    maxBatch: config.maxBatch,
    backoff: config.backoff,
  });
  shutdown.add("projection", () => loop.stop());

  const app = createStatusApp({
    sql,
    log,
    findRequestedEvent: (jobId) => findLastEvent(nats.jsm, "verification.requested", jobId),
    isStreamAvailable: () => (nats.isConnected() ? isStreamAvailable(nats.jsm) : Promise.resolve(false)),
  });
  const http = await listen(app, config.port, config.host);
  shutdown.add("http", () => http.close());

  const ops = await startOpsServer(config.opsPort, async () => nats.isConnected() && (await pingPostgres(sql)));
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, opsPort: ops.port }, "status ready");
  return { port: http.port, opsPort: ops.port, stop: () => shutdown.run() };
}
