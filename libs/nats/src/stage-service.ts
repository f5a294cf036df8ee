import { STREAM_NAME, jobPriorities, opsPortOf, stageConsumer, stageSpec, type ConsumedBy, type JobPriority, type StageName, type StageSpec } from "@veriflow/events";
import { startOpsServer } from "@veriflow/http";
import { failedEventFor, type StageInstance, type StageModule, type UploadReader } from "@veriflow/pipeline";
import { EnvReader, Shutdown, defineService, readCommonConfig, type CommonConfig, type Env, type Logger, type ServiceDefinition } from "@veriflow/platform";
import { startTracing, type Tracing } from "@veriflow/tracing";
import { readBackoffPolicy, type BackoffPolicy } from "./backoff.js";
import { createBucketUploads } from "./bucket-uploads.js";
import { runConsumeLoop, type RunningLoop } from "./consume-loop.js";
import { connectNats, type NatsClients } from "./nats.js";
import { createPrioritySlots, type PrioritySlots } from "./priority-slots.js";
import { createKnownVerdictStore } from "./known-verdicts.js";
import { ensureConsumer, ensureStreams, openKnownVerdictsBucket, openUploadsBucket, readTopologyConfig, type TopologyConfig } from "./topology.js";
import { readUploadFollowConfig, startUploadFollower, type UploadFollowConfig } from "./upload-follower.js";
import { UPLOAD_READER, readUploadSweepConfig, startUploadSweep, type UploadSweepConfig } from "./upload-sweep.js";

/** How a pipeline stage consumes: concurrency, attempts and backoff, from env. */
export interface StageConfig {
  concurrency: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
}

/** Reads `<PREFIX>_CONCURRENCY`, `<PREFIX>_MAX_ATTEMPTS`, `RETRY_BASE_MS`, `RETRY_MAX_MS`. */
export function readStageConfig(r: EnvReader, prefix: string, defaults: { concurrency: number }): StageConfig {
  return {
    concurrency: r.int(`${prefix}_CONCURRENCY`, defaults.concurrency, { min: 1, max: 10_000 }),
    maxAttempts: r.int(`${prefix}_MAX_ATTEMPTS`, 5, { min: 1, max: 100 }),
    backoff: readBackoffPolicy(r),
  };
}

export interface StartStageOptions<S extends StageName> {
  nats: NatsClients;
  topology: TopologyConfig;
  stage: S;
  instance: StageInstance<S>;
  config: StageConfig;
  log: Logger;
  tracing?: Tracing;
}

/**
 * Creates the topology a stage needs (idempotently) and starts its consume loops: one per
 * priority class, each through its own durable consumer, sharing the stage's concurrency
 * (priority-slots.ts) so interactive work never queues behind bulk work. The consumers, the
 * event type they accept and the give-up event all come from the stage's entry in the
 * pipeline descriptor.
 */
export async function startStage<S extends StageName>(opts: StartStageOptions<S>): Promise<RunningLoop> {
  await ensureStreams(opts.nats.jsm, opts.topology, { log: opts.log });
  const slots = createPrioritySlots(opts.config.concurrency);
  const loops: RunningLoop[] = [];
  try {
    for (const priority of jobPriorities) loops.push(await startClassLoop(opts, priority, slots));
  } catch (err) {
    await Promise.all(loops.map((l) => l.stop()));
    throw err;
  }
  return {
    stop: async () => void (await Promise.all(loops.map((l) => l.stop()))),
    done: Promise.all(loops.map((l) => l.done)).then(() => undefined),
    ready: () => loops.every((l) => l.ready()),
  };
}

async function startClassLoop<S extends StageName>(opts: StartStageOptions<S>, priority: JobPriority, slots: PrioritySlots): Promise<RunningLoop> {
  const consumer = stageConsumer(opts.stage, priority);
  const ensured = await ensureConsumer(opts.nats.jsm, consumer, opts.topology, {}, { log: opts.log });
  if (ensured.created) opts.log.info({ consumer: consumer.durable, startSeq: ensured.startSeq }, "consumer created");
  opts.log.debug({ stream: STREAM_NAME, consumer: consumer.durable }, "topology ready");
  return runConsumeLoop<ConsumedBy<S>>({
    nats: opts.nats,
    topology: opts.topology,
    consumer,
    eventType: stageSpec(opts.stage).consumes as ConsumedBy<S>,
    produces: stageSpec(opts.stage).produces,
    handle: opts.instance.handle,
    afterAck: opts.instance.afterAck,
    onGiveUp: (event, err, attempts) => [failedEventFor(opts.stage, event, err, attempts)],
    log: opts.log,
    tracing: opts.tracing,
    // Bulk pulls no more than it may run: the rest stays in the stream for other replicas.
    concurrency: priority === "bulk" ? slots.bulkLimit : opts.config.concurrency,
    slots: slots.of(priority),
    maxAttempts: opts.config.maxAttempts,
    backoff: opts.config.backoff,
  });
}

/**
 * For a stage the descriptor says reads no uploads: its service leaves the bucket alone (its
 * NATS user may not open it), so a call is a bug in the descriptor or the stage.
 */
function withoutUploads(stage: StageName): UploadReader {
  const refuse = () => Promise.reject(new Error(`the ${stage} stage reads no uploads (readsUploads in libs/events/src/pipeline.ts)`));
  return { hash: refuse, release: refuse };
}

export interface StageServiceConfig<Settings> extends CommonConfig {
  stage: StageConfig;
  topology: TopologyConfig;
  settings: Settings;
  /** The stage that reads uploads also sweeps the ones left behind (upload-sweep.ts); null for the others. */
  uploadSweep: UploadSweepConfig | null;
  /** ... and reads large ones as they are stored (upload-follower.ts); null for the others. */
  uploadFollow: UploadFollowConfig | null;
}

/** `chain-check` → `CHAIN_CHECK`: the prefix of a stage's own variables. */
const envPrefix = (stage: string) => stage.toUpperCase().replace(/-/g, "_");

export function loadStageServiceConfig<S extends StageName, Settings>(module: StageModule<S, Settings>, env: Env): StageServiceConfig<Settings> {
  const r = new EnvReader(env);
  const config = {
    ...readCommonConfig(r, opsPortOf(module.stage)),
    stage: readStageConfig(r, envPrefix(module.stage), { concurrency: module.defaultConcurrency }),
    topology: readTopologyConfig(r),
    settings: module.readSettings(r),
    uploadSweep: module.stage === UPLOAD_READER.service ? readUploadSweepConfig(r) : null,
    uploadFollow: module.stage === UPLOAD_READER.service ? readUploadFollowConfig(r) : null,
  };
  const horizon = retryHorizonMs(config.stage, config.topology);
  if (config.topology.duplicateWindowMs < horizon) {
    r.problems.push(
      `STREAM_DUPLICATE_WINDOW_MS (${config.topology.duplicateWindowMs}) must be >= ${envPrefix(module.stage)}_MAX_ATTEMPTS × (CONSUMER_ACK_WAIT_MS + RETRY_MAX_MS) = ${horizon}, the longest a stage can keep retrying one message`,
    );
  }
  r.done();
  return config;
}

/**
 * The longest a stage can keep working on one message: every attempt waits at most the
 * ack wait (a lost ack) or the largest backoff before the next. A job's first terminal event
 * and any later attempt to publish another (whose id is the same) fall within it, so a
 * duplicate window at least this long drops the second in the stream itself; past the
 * window, the stage's stored-outcome check and the readers' first-terminal-wins rule still hold.
 */
export function retryHorizonMs(stage: StageConfig, topology: TopologyConfig): number {
  return stage.maxAttempts * (topology.ackWaitMs + stage.backoff.maxMs);
}

/** The composition of every stage service: NATS → uploads bucket (if it reads uploads) → the stage → consume loop (→ upload sweep) → ops endpoints. */
export async function startStageService<S extends StageName, Settings>(
  module: StageModule<S, Settings>,
  config: StageServiceConfig<Settings>,
  log: Logger,
): Promise<{ opsPort: number; stop(): Promise<void> }> {
  const shutdown = new Shutdown(log);
  try {
    const tracing = startTracing(config.tracing, module.stage, log);
    shutdown.add("tracing", () => tracing.stop());
    const nats = await connectNats({ ...config.nats, name: `veriflow-${module.stage}`, log });
    shutdown.add("nats", () => nats.close());
    const readsUploads = stageSpec(module.stage).readsUploads;
    const follower = readsUploads && config.uploadFollow ? startUploadFollower({ ...config.uploadFollow, nc: nats.nc, jsm: nats.jsm, log, queue: module.stage }) : null;
    if (follower) shutdown.add("upload follower", () => follower.close());
    const uploads = readsUploads ? createBucketUploads(nats, await openUploadsBucket(nats.js, config.topology, { log }), follower) : withoutUploads(module.stage);
    const knownVerdicts = (stageSpec(module.stage) as StageSpec).readsKnownVerdicts ? createKnownVerdictStore(await openKnownVerdictsBucket(nats.js, config.topology, { log })) : undefined;
    const instance = module.create(config.settings, { log, uploads, knownVerdicts, now: () => new Date() });
    shutdown.add("stage", () => instance.close());
    const loop = await startStage({ nats, topology: config.topology, stage: module.stage, instance, config: config.stage, log, tracing });
    shutdown.add("consumer", () => loop.stop());
    if (config.uploadSweep) {
      const sweep = startUploadSweep({ ...config.uploadSweep, jsm: nats.jsm, log });
      shutdown.add("upload sweep", () => sweep.stop());
    }
    // Ready while connected and the stage's consumer exists and answers its pulls.
    const ops = await startOpsServer(config, () => nats.isConnected() && loop.ready());
    shutdown.add("ops", () => ops.close());
    log.info({ opsPort: ops.port, concurrency: config.stage.concurrency }, `${module.stage} ready`);
    return { opsPort: ops.port, stop: () => shutdown.run() };
  } catch (err) {
    await shutdown.run();
    throw err;
  }
}

/** A stage service's definition for its main.ts and the test system. */
export function defineStageService<S extends StageName, Settings>(module: StageModule<S, Settings>): ServiceDefinition<StageServiceConfig<Settings>> {
  return defineService({
    name: module.stage,
    loadConfig: (env) => loadStageServiceConfig(module, env),
    start: (config, log) => startStageService(module, config, log),
  });
}
