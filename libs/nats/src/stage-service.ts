import { STREAM_NAME, createEvent, type ConsumerSpec, type Envelope, type EventType, type Stage } from "@veriflow/events";
import { readBackoffPolicy, type BackoffPolicy } from "./backoff.js";
import type { EnvReader } from "@veriflow/platform";
import { runConsumeLoop, type Handler, type RunningLoop } from "./consume-loop.js";
import { errorCode, errorMessage } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import type { NatsClients } from "./nats.js";
import { ensureConsumer, ensureStreams, type TopologyConfig } from "./topology.js";

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

/** Every pipeline event carries its job type somewhere; the failed event repeats it. */
function jobTypeOf(event: Envelope): "verify" | "proof" | null {
  const data = event.data as { request?: { jobType?: "verify" | "proof" }; jobType?: "verify" | "proof" | null };
  return data.request?.jobType ?? data.jobType ?? null;
}

/** The give-up policy every stage shares: one verification.failed naming the stage. */
export function failedEventFor(stage: Stage) {
  return (event: Envelope, err: unknown, attempts: number) => [
    createEvent(
      "verification.failed",
      {
        jobId: event.correlationId,
        jobType: jobTypeOf(event),
        stage,
        code: errorCode(err),
        message: errorMessage(err).slice(0, 2000),
        attempts,
      },
      event,
    ),
  ];
}

export interface StartStageOptions<T extends EventType> {
  nats: NatsClients;
  topology: TopologyConfig;
  stage: Stage;
  consumer: ConsumerSpec;
  eventType: T;
  handle: Handler<T>;
  afterAck?: (event: Envelope<T>) => Promise<void>;
  config: StageConfig;
  log: Logger;
}

/** Creates the topology a stage needs (idempotently) and starts its consume loop. */
export async function startStage<T extends EventType>(opts: StartStageOptions<T>): Promise<RunningLoop> {
  await ensureStreams(opts.nats.jsm, opts.topology);
  await ensureConsumer(opts.nats.jsm, opts.consumer, opts.topology);
  opts.log.debug({ stream: STREAM_NAME, consumer: opts.consumer.durable }, "topology ready");
  return runConsumeLoop({
    js: opts.nats.js,
    consumer: opts.consumer,
    eventType: opts.eventType,
    handle: opts.handle,
    afterAck: opts.afterAck,
    onGiveUp: failedEventFor(opts.stage),
    log: opts.log,
    concurrency: opts.config.concurrency,
    maxAttempts: opts.config.maxAttempts,
    backoff: opts.config.backoff,
    workingIntervalMs: Math.max(1000, Math.floor(opts.topology.ackWaitMs / 3)),
  });
}
