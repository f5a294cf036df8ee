import { createRpcProvider } from "@veriflow/adapters";
import { observerConsumer, type AnyEnvelope } from "@veriflow/events";
import { Shutdown, defineService, type Logger, type RunningService } from "@veriflow/platform";
import {
  connectNats,
  createKnownVerdictStore,
  ensureConsumer,
  ensureRegistryStream,
  ensureStreams,
  openKnownVerdictsBucket,
  publishEvents,
  publishRegistryChanges,
  runBatchConsumeLoop,
} from "@veriflow/nats";
import { connectPostgres, isDatabaseUnavailableError, pingPostgres, poolOptionsOf, startMigrations, withDatabase } from "@veriflow/pg";
import { startOpsServer } from "@veriflow/http";
import { loadConfig, type RegistryWatchConfig } from "./config.js";
import { startFollower } from "./follower.js";
import { createIntake } from "./intake.js";
import { schema } from "./schema.js";

/**
 * The composition: Postgres (migrated) → NATS (the events stream, the registry changes'
 * stream and the known verdicts' bucket) → the intake of job events (which jobs and registries to follow) → the follower of
 * the registries' logs → ops endpoints.
 */
export async function startRegistryWatch(config: RegistryWatchConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const sql = connectPostgres(config.database.url, { ...poolOptionsOf(config.database), log, applicationName: "veriflow-registry-watch" });
  shutdown.add("postgres", () => sql.end({ timeout: 5 }));
  const db = await startMigrations(sql, schema.dir, { log, table: schema.table });
  shutdown.add("migrations", () => db.stop());

  const nats = await connectNats({ ...config.nats, name: "veriflow-registry-watch", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology, { log });
  await ensureRegistryStream(nats.jsm, config.topology, { log });
  await ensureConsumer(nats.jsm, observerConsumer("registry-watch"), config.topology, {}, { log });
  const knownVerdicts = createKnownVerdictStore(await openKnownVerdictsBucket(nats.js, config.topology, { log }));
  const publish = async (events: readonly AnyEnvelope[]) => {
    await publishEvents(nats.js, events);
  };

  const intake = createIntake({ sql, log, publish, knownVerdicts, now: () => new Date() });
  const loop = await runBatchConsumeLoop({
    nats,
    topology: config.topology,
    consumer: observerConsumer("registry-watch"),
    handleBatch: withDatabase(db, (events) => intake(events)),
    isUnavailable: isDatabaseUnavailableError,
    maxAttempts: config.maxAttempts,
    log,
    maxBatch: config.maxBatch,
    lingerMs: config.batchLingerMs,
    backoff: config.backoff,
  });
  shutdown.add("intake", () => loop.stop());

  const provider = createRpcProvider(config.rpcUrl, { timeoutMs: config.rpcTimeoutMs });
  shutdown.add("rpc", () => provider.destroy());
  let follower: ReturnType<typeof startFollower> | undefined;
  let stopping = false;
  // The follower starts once the tables exist; PostgreSQL down at start only delays it.
  const followerStarted = db.ready.then(() => {
    if (stopping || !db.isReady()) return;
    follower = startFollower({
      sql,
      log,
      chain: provider,
      publishChanges: async (events) => {
        await publishRegistryChanges(nats.js, events);
      },
      publishRuns: publish,
      forgetKnownVerdicts: (registry, hash, at) => knownVerdicts.forget(registry, hash, at),
      confirmations: config.confirmations,
      reorgDepth: config.reorgDepth,
      maxRange: config.maxRange,
      pollMs: config.pollMs,
      now: () => new Date(),
    });
  });
  shutdown.add("follower", async () => {
    stopping = true;
    await followerStarted;
    await follower?.stop();
  });

  const ops = await startOpsServer(config, async () => nats.isConnected() && loop.ready() && db.isReady() && (await pingPostgres(sql)) && (follower?.healthy() ?? false));
  shutdown.add("ops", () => ops.close());
  log.info({ opsPort: ops.port, confirmations: config.confirmations, reorgDepth: config.reorgDepth }, "registry-watch ready");
  return { opsPort: ops.port, routes: [], stop: () => shutdown.run() };
}

export const service = defineService({ name: "registry-watch", loadConfig, start: startRegistryWatch });
