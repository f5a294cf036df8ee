import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Objm, type ObjectStore } from "@nats-io/obj";
/** JetStream durations are nanoseconds. */
const nanos = (ms: number): number => ms * 1_000_000;
import {
  DEAD_LETTER_ROOT,
  DEAD_LETTER_STREAM,
  MIN_DUPLICATE_WINDOW_MS,
  POSITIONS_ROOT,
  POSITIONS_STREAM,
  STREAM_NAME,
  STREAM_SUBJECTS,
  UPLOADS_BUCKET,
  type ConsumerSpec,
} from "@veriflow/events";
import type { EnvReader } from "@veriflow/platform";
import { checkpointedStart } from "./consumer-position.js";
import { isAlreadyExists, isNotFound, isSubjectOverlap } from "./nats-errors.js";

export interface TopologyConfig {
  /** How long events stay in the stream. */
  streamMaxAgeMs: number;
  replicas: number;
  duplicateWindowMs: number;
  /** How long an upload may wait in the bucket before the server removes it. */
  uploadsMaxAgeMs: number;
  /** Redelivery deadline; handlers that run longer signal progress (`working()`). */
  ackWaitMs: number;
  /** Messages a consumer may have in flight unacknowledged. */
  maxAckPending: number;
}

const DAY = 86_400_000;

export function readTopologyConfig(r: EnvReader): TopologyConfig {
  const config: TopologyConfig = {
    streamMaxAgeMs: r.int("STREAM_MAX_AGE_MS", 7 * DAY, { min: 60_000 }),
    replicas: r.int("STREAM_REPLICAS", 1, { min: 1, max: 5 }),
    duplicateWindowMs: r.int("STREAM_DUPLICATE_WINDOW_MS", 5 * 60_000, { min: MIN_DUPLICATE_WINDOW_MS }),
    uploadsMaxAgeMs: r.int("UPLOADS_MAX_AGE_MS", DAY, { min: 60_000 }),
    ackWaitMs: r.int("CONSUMER_ACK_WAIT_MS", 30_000, { min: 1000 }),
    maxAckPending: r.int("CONSUMER_MAX_ACK_PENDING", 2000, { min: 1 }),
  };
  // nats-server refuses a stream whose duplicate window outlasts its max age: say so at config time.
  if (config.streamMaxAgeMs < config.duplicateWindowMs) {
    r.problems.push(`STREAM_MAX_AGE_MS (${config.streamMaxAgeMs}) must be >= STREAM_DUPLICATE_WINDOW_MS (${config.duplicateWindowMs})`);
  }
  return config;
}

/** Creates or updates a stream to the wanted config; safe when replicas race to do it. */
async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch (err) {
    if (!isNotFound(err, "stream")) throw err;
    try {
      await jsm.streams.add(cfg);
      return;
    } catch (e) {
      if (!isAlreadyExists(e, "stream")) throw e;
    }
  }
  await jsm.streams.update(cfg.name, cfg);
}

/** The events stream and the dead-letter stream, file-backed with limits retention. */
export async function ensureStreams(jsm: JetStreamManager, cfg: TopologyConfig): Promise<void> {
  await ensureStream(jsm, {
    name: STREAM_NAME,
    subjects: STREAM_SUBJECTS,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(cfg.streamMaxAgeMs),
    num_replicas: cfg.replicas,
    duplicate_window: nanos(cfg.duplicateWindowMs),
    // Lets the status service read one job's request by subject without a consumer.
    allow_direct: true,
  });
  await ensureStream(jsm, {
    name: DEAD_LETTER_STREAM,
    subjects: [`${DEAD_LETTER_ROOT}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(cfg.streamMaxAgeMs),
    num_replicas: cfg.replicas,
  });
  // One message per consumer: its last checkpointed position (consumer-position.ts).
  await ensureStream(jsm, {
    name: POSITIONS_STREAM,
    subjects: [`${POSITIONS_ROOT}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    num_replicas: cfg.replicas,
  });
}

/**
 * A durable pull consumer; the consume loop, not max_deliver, decides the last attempt.
 * An existing one keeps its position. A missing one is created from `startSeq` when a
 * running service recreates it (see pull-session.ts), else after its last checkpointed
 * position, else (first start, or a new stream) reading the whole stream. Answers whether
 * it was created, and from where.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  spec: ConsumerSpec,
  cfg: TopologyConfig,
  at: { startSeq?: number } = {},
): Promise<{ created: boolean; startSeq: number }> {
  try {
    await jsm.consumers.info(STREAM_NAME, spec.durable);
    await jsm.consumers.update(STREAM_NAME, spec.durable, { description: spec.description, ack_wait: nanos(cfg.ackWaitMs), max_ack_pending: cfg.maxAckPending });
    return { created: false, startSeq: 0 };
  } catch (err) {
    if (!isNotFound(err, "consumer")) throw err;
  }
  const startSeq = at.startSeq ?? (await checkpointedStart(jsm, spec.durable)) ?? 1;
  await jsm.consumers.add(STREAM_NAME, consumerConfig(spec, cfg, startSeq)).catch((e: unknown) => {
    if (!isAlreadyExists(e, "consumer")) throw e;
  });
  return { created: true, startSeq };
}

function consumerConfig(spec: ConsumerSpec, cfg: TopologyConfig, startSeq: number): Partial<ConsumerConfig> {
  const start: Partial<ConsumerConfig> =
    startSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : { deliver_policy: DeliverPolicy.All };
  return {
    durable_name: spec.durable,
    description: spec.description,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    ...start,
    ack_wait: nanos(cfg.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: cfg.maxAckPending,
  };
}

/**
 * The uploads bucket, with a max age so an upload never outlives its usefulness. Services
 * starting together race to create it; the loser's create fails, and its retry finds it.
 */
export async function openUploadsBucket(js: JetStreamClient, cfg: TopologyConfig): Promise<ObjectStore> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Objm(js).create(UPLOADS_BUCKET, { storage: StorageType.File, replicas: cfg.replicas, ttl: nanos(cfg.uploadsMaxAgeMs) });
    } catch (err) {
      if (attempt >= 3 || !(isAlreadyExists(err, "stream") || isSubjectOverlap(err))) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}
