import {
  jetstream,
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
/** JetStream durations are nanoseconds. */
const nanos = (ms: number): number => ms * 1_000_000;
import {
  DEAD_LETTER_ROOT,
  DEAD_LETTER_STREAM,
  IDEMPOTENCY_BUCKET,
  KNOWN_VERDICTS_BUCKET,
  MIN_DUPLICATE_WINDOW_MS,
  POSITIONS_ROOT,
  POSITIONS_STREAM,
  RATE_LIMITS_BUCKET,
  REGISTRY_ROOT,
  REGISTRY_STREAM,
  STREAM_NAME,
  STREAM_SUBJECTS,
  UPLOADS_BUCKET,
  type ConsumerSpec,
} from "@veriflow/events";
import type { EnvReader } from "@veriflow/platform";
import { whileUnavailable, type WhileUnavailableOptions } from "./while-unavailable.js";
import { checkStreams, type WantedStream } from "./topology-check.js";
import { checkpointedStart } from "./consumer-position.js";
import { isAlreadyExists, isNotFound, isStorageFullError, isSubjectOverlap } from "./nats-errors.js";

export interface TopologyConfig {
  /** How long events stay in the stream. */
  streamMaxAgeMs: number;
  replicas: number;
  duplicateWindowMs: number;
  /**
   * Most bytes the events stream keeps. It discards its oldest events past this, so the
   * gateway refuses new work (507) before the unprocessed part could reach them.
   */
  streamMaxBytes: number;
  /** Most bytes the dead-letter stream keeps; the oldest dead letters go first. */
  deadLetterMaxBytes: number;
  /**
   * How long an upload may wait in the bucket before the server removes it: never shorter
   * than the stream's max age, the longest a request event (so a job) can wait.
   */
  uploadsMaxAgeMs: number;
  /** Most bytes of uploads waiting to be hashed; a put past it fails (the gateway answers 507). */
  uploadsMaxBytes: number;
  /** Redelivery deadline; handlers that run longer signal progress (`working()`). */
  ackWaitMs: number;
  /** Messages a consumer may have in flight unacknowledged. */
  maxAckPending: number;
  /**
   * Who makes the shared topology (streams, uploads bucket): each service at its start
   * (`ensure`), or `veriflow setup` once per deployment (`check`: a service only checks that
   * what it needs exists as configured, and says what differs).
   */
  mode: TopologyMode;
}

export type TopologyMode = "ensure" | "check";

const DAY = 86_400_000;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/**
 * The storage bounds' defaults. JetStream reserves each stream's max_bytes in its store
 * (max_file_store) when the stream is created, so together they must fit there:
 * 1 GiB + 128 MiB + 4 GiB (+ the gateway's 64 MiB idempotency and 16 MiB rate-limit buckets,
 * and a tenth of the events' bytes each for the registry changes and the known verdicts).
 */
export const STORAGE_DEFAULTS = { streamMaxBytes: GiB, deadLetterMaxBytes: 128 * MiB, uploadsMaxBytes: 4 * GiB } as const;
/** The least a bounded stream may be given: room for a few events or one small upload. */
const MIN_STORE_BYTES = 64 * KiB;

/**
 * The ack wait only decides how soon a dead consumer's messages go to another replica: a
 * live one keeps what it holds in progress with `working()` every heartbeatIntervalOf(ackWait).
 * 8 s, because (A = ack wait, I = A/4 = 2 s):
 * - a killed replica's messages are redelivered at most A after its last heartbeat: 6–8 s
 *   after the kill, instead of 30;
 * - an interval timer that is overdue fires as soon as the event loop is free, so the server
 *   sees at most I + S between two heartbeats, S being the longest event-loop stall; it
 *   redelivers only if I + S > A, so stalls (GC, CPU starvation, a SIGSTOP) up to A − I = 6 s
 *   cause no extra attempt (heartbeat.int.test.ts; the chaos suite's freeze scenario stops
 *   every consumer for 4 s, its starve scenario lowers them under busy loops).
 * - a stage's retry horizon, MAX_ATTEMPTS × (A + RETRY_MAX_MS) = 5 × (8 + 30) s = 190 s, stays
 *   inside the 5-min duplicate window (loadStageServiceConfig checks it); at 30 s it was 300 s.
 * Shorter would shrink the stall margin (at 4 s: 3 s) for little gain in pickup.
 */
export const DEFAULT_ACK_WAIT_MS = 8_000;

/**
 * How often a held message is marked in progress: a quarter of the ack wait, so three
 * heartbeats may be late or lost (a stall, a leader change of the consumer) before the
 * server redelivers. One rule for every loop (stages, status, webhooks).
 */
export const heartbeatIntervalOf = (ackWaitMs: number): number => Math.max(100, Math.floor(ackWaitMs / 4));

export function readTopologyConfig(r: EnvReader): TopologyConfig {
  const streamMaxAgeMs = r.int("STREAM_MAX_AGE_MS", 7 * DAY, { min: 60_000 });
  const config: TopologyConfig = {
    streamMaxAgeMs,
    replicas: r.int("STREAM_REPLICAS", 1, { min: 1, max: 5 }),
    duplicateWindowMs: r.int("STREAM_DUPLICATE_WINDOW_MS", 5 * 60_000, { min: MIN_DUPLICATE_WINDOW_MS }),
    streamMaxBytes: r.int("STREAM_MAX_BYTES", STORAGE_DEFAULTS.streamMaxBytes, { min: MIN_STORE_BYTES }),
    deadLetterMaxBytes: r.int("DEAD_LETTER_MAX_BYTES", STORAGE_DEFAULTS.deadLetterMaxBytes, { min: MIN_STORE_BYTES }),
    // By default as long as the events: a job waits at most that long for its hashing.
    uploadsMaxAgeMs: r.int("UPLOADS_MAX_AGE_MS", streamMaxAgeMs, { min: 60_000 }),
    uploadsMaxBytes: r.int("UPLOADS_MAX_BYTES", STORAGE_DEFAULTS.uploadsMaxBytes, { min: MIN_STORE_BYTES }),
    ackWaitMs: r.int("CONSUMER_ACK_WAIT_MS", DEFAULT_ACK_WAIT_MS, { min: 1000 }),
    maxAckPending: r.int("CONSUMER_MAX_ACK_PENDING", 2000, { min: 1 }),
    mode: r.oneOf("NATS_TOPOLOGY", ["ensure", "check"] as const, "ensure"),
  };
  // nats-server refuses a stream whose duplicate window outlasts its max age: say so at config time.
  if (config.streamMaxAgeMs < config.duplicateWindowMs) {
    r.problems.push(`STREAM_MAX_AGE_MS (${config.streamMaxAgeMs}) must be >= STREAM_DUPLICATE_WINDOW_MS (${config.duplicateWindowMs})`);
  }
  // An upload removed while its request event still waits is a job that cannot be hashed.
  if (config.uploadsMaxAgeMs < config.streamMaxAgeMs) {
    r.problems.push(`UPLOADS_MAX_AGE_MS (${config.uploadsMaxAgeMs}) must be >= STREAM_MAX_AGE_MS (${config.streamMaxAgeMs}): a queued job's upload must not expire before its request event`);
  }
  return config;
}

/**
 * Runs a stream create or update; a max_bytes JetStream cannot reserve becomes an error
 * that names the variable to change (the server says only "insufficient storage resources").
 */
async function reserving<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isStorageFullError(err)) throw err;
    throw new Error(
      `JetStream cannot reserve ${what}: its store (nats-server max_file_store, or the disk) has less room. ` +
        "Lower STREAM_MAX_BYTES, DEAD_LETTER_MAX_BYTES, UPLOADS_MAX_BYTES, IDEMPOTENCY_MAX_BYTES or RATE_LIMITS_MAX_BYTES, or give JetStream more storage.",
      { cause: err },
    );
  }
}

/** Creates or updates a stream to the wanted config; safe when replicas race to do it. */
async function ensureStream(jsm: JetStreamManager, cfg: WantedStream): Promise<void> {
  const what = `${cfg.max_bytes} bytes for stream ${cfg.name}`;
  try {
    await jsm.streams.info(cfg.name);
  } catch (err) {
    if (!isNotFound(err, "stream")) throw err;
    try {
      await reserving(what, () => jsm.streams.add(cfg));
      return;
    } catch (e) {
      if (!isAlreadyExists(e, "stream")) throw e;
    }
  }
  await reserving(what, () => jsm.streams.update(cfg.name, cfg));
}

/**
 * Brings an existing bucket's stream to the wanted limits: Objm and Kvm create a bucket's
 * stream with them, but leave an existing one as it is (a bucket made before it had limits).
 */
async function ensureBucketLimits(jsm: JetStreamManager, stream: string, limits: { max_bytes: number; max_age: number }): Promise<void> {
  const { config } = await jsm.streams.info(stream);
  if (config.max_bytes === limits.max_bytes && config.max_age === limits.max_age) return;
  // The server refuses a duplicate window longer than the max age (a bucket given a shorter one).
  const duplicate_window = limits.max_age > 0 ? Math.min(config.duplicate_window, limits.max_age) : config.duplicate_window;
  await reserving(`${limits.max_bytes} bytes for stream ${stream}`, () => jsm.streams.update(stream, { ...config, ...limits, duplicate_window }));
}

/** The events stream and the dead-letter stream, file-backed with limits retention. */
export async function ensureStreams(jsm: JetStreamManager, cfg: TopologyConfig, wait?: WhileUnavailableOptions): Promise<void> {
  await whileUnavailable("the events, dead-letter and positions streams", () => ensureEachStream(jsm, cfg), wait);
}

async function ensureEachStream(jsm: JetStreamManager, cfg: TopologyConfig): Promise<void> {
  if (cfg.mode === "check") return checkStreams(jsm, streamConfigs(cfg));
  for (const stream of streamConfigs(cfg)) await ensureStream(jsm, stream);
}

/** The streams every service needs, as configured: the events, the dead letters, the consumers' positions. */
export function streamConfigs(cfg: TopologyConfig): WantedStream[] {
  return [
    {
      name: STREAM_NAME,
      subjects: STREAM_SUBJECTS,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(cfg.streamMaxAgeMs),
      max_bytes: cfg.streamMaxBytes,
      num_replicas: cfg.replicas,
      duplicate_window: nanos(cfg.duplicateWindowMs),
      // Lets the status service read one job's request by subject without a consumer.
      allow_direct: true,
    },
    {
      name: DEAD_LETTER_STREAM,
      subjects: [`${DEAD_LETTER_ROOT}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(cfg.streamMaxAgeMs),
      max_bytes: cfg.deadLetterMaxBytes,
      num_replicas: cfg.replicas,
    },
    // One message per consumer: its last checkpointed position (consumer-position.ts).
    {
      name: POSITIONS_STREAM,
      subjects: [`${POSITIONS_ROOT}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_msgs_per_subject: 1,
      num_replicas: cfg.replicas,
    },
  ];
}

/**
 * The registry changes' stream (registry-watch publishes, subscribers read): the events
 * stream's age, a tenth of its bytes (at least 64 KiB: JetStream reserves max_bytes up front,
 * so a small store, like the chaos suite's, must still fit every stream), and its duplicate
 * window, which drops a log read again.
 */
export function registryStreamConfig(cfg: TopologyConfig): WantedStream {
  return {
    name: REGISTRY_STREAM,
    subjects: [`${REGISTRY_ROOT}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(cfg.streamMaxAgeMs),
    max_bytes: Math.max(64 * 1024, Math.floor(cfg.streamMaxBytes / 10)),
    num_replicas: cfg.replicas,
    duplicate_window: nanos(cfg.duplicateWindowMs),
  };
}

export async function ensureRegistryStream(jsm: JetStreamManager, cfg: TopologyConfig, wait?: WhileUnavailableOptions): Promise<void> {
  const wanted = registryStreamConfig(cfg);
  await whileUnavailable("the registry changes stream", () => (cfg.mode === "check" ? checkStreams(jsm, [wanted]) : ensureStream(jsm, wanted)), wait);
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
  wait?: WhileUnavailableOptions,
): Promise<{ created: boolean; startSeq: number }> {
  return whileUnavailable(`consumer ${spec.durable}`, () => ensureConsumerOnce(jsm, spec, cfg, at), wait);
}

async function ensureConsumerOnce(jsm: JetStreamManager, spec: ConsumerSpec, cfg: TopologyConfig, at: { startSeq?: number }): Promise<{ created: boolean; startSeq: number }> {
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
 * The uploads bucket: a max age so an upload never outlives its usefulness, and a max
 * size past which a put fails (the object store's stream discards new messages), so a
 * stalled hashing stage fills this bucket, not the disk. Services starting together race
 * to create it; the loser's create fails, and its retry finds it.
 */
export async function openUploadsBucket(js: JetStreamClient, cfg: TopologyConfig, wait?: WhileUnavailableOptions): Promise<ObjectStore> {
  return whileUnavailable("the uploads bucket", () => openUploadsBucketOnce(js, cfg), wait);
}

async function openUploadsBucketOnce(js: JetStreamClient, cfg: TopologyConfig): Promise<ObjectStore> {
  if (cfg.mode === "check") {
    await checkStreams(await js.jetstreamManager(), [uploadsStreamConfig(cfg)]);
    return new Objm(js).open(UPLOADS_BUCKET, false);
  }
  const limits = { max_age: nanos(cfg.uploadsMaxAgeMs), max_bytes: cfg.uploadsMaxBytes };
  const bucket = await reserving(`${cfg.uploadsMaxBytes} bytes for the uploads bucket`, () =>
    createRacing(() => new Objm(js).create(UPLOADS_BUCKET, { storage: StorageType.File, replicas: cfg.replicas, ttl: limits.max_age, max_bytes: limits.max_bytes })),
  );
  await ensureBucketLimits(await js.jetstreamManager(), `OBJ_${UPLOADS_BUCKET}`, limits);
  return bucket;
}

/** What the uploads bucket's stream must be (the object store makes the rest of its config). */
export function uploadsStreamConfig(cfg: TopologyConfig): WantedStream {
  return { name: `OBJ_${UPLOADS_BUCKET}`, max_age: nanos(cfg.uploadsMaxAgeMs), max_bytes: cfg.uploadsMaxBytes, num_replicas: cfg.replicas, discard: DiscardPolicy.New };
}

export interface IdempotencyBucketConfig {
  /** How long a key's record lives (the bucket's max age). */
  ttlMs: number;
  maxBytes: number;
  replicas: number;
}

/**
 * The idempotency keys' bucket: one record per key, removed by the bucket's max age; a
 * write past max_bytes fails (discard new), which the gateway answers with 507.
 */
export async function openIdempotencyBucket(js: JetStreamClient, cfg: IdempotencyBucketConfig, wait?: WhileUnavailableOptions): Promise<KV> {
  return whileUnavailable("the idempotency bucket", () => openIdempotencyBucketOnce(js, cfg), wait);
}

async function openIdempotencyBucketOnce(js: JetStreamClient, cfg: IdempotencyBucketConfig): Promise<KV> {
  const limits = { max_age: nanos(cfg.ttlMs), max_bytes: cfg.maxBytes };
  const kv = await reserving(`${cfg.maxBytes} bytes for the idempotency bucket`, () =>
    createRacing(() => new Kvm(js).create(IDEMPOTENCY_BUCKET, { history: 1, storage: StorageType.File, replicas: cfg.replicas, ttl: cfg.ttlMs, max_bytes: cfg.maxBytes })),
  );
  await ensureBucketLimits(await js.jetstreamManager(), `KV_${IDEMPOTENCY_BUCKET}`, limits);
  return kv;
}

/**
 * The known verdicts' bucket (KNOWN_VERDICTS_BUCKET): one small record per question, history 1,
 * kept as long as the events; a tenth of the events' bytes, at least 64 KiB (a small JetStream
 * store still fits every stream). Full, it forgets its oldest records (discard old): a forgotten
 * verdict costs a full run, never a refused write.
 */
export function knownVerdictsStreamConfig(cfg: TopologyConfig): WantedStream {
  return {
    name: `KV_${KNOWN_VERDICTS_BUCKET}`,
    max_age: nanos(cfg.streamMaxAgeMs),
    max_bytes: Math.max(64 * KiB, Math.floor(cfg.streamMaxBytes / 10)),
    num_replicas: cfg.replicas,
    discard: DiscardPolicy.Old,
  };
}

export async function openKnownVerdictsBucket(js: JetStreamClient, cfg: TopologyConfig, wait?: WhileUnavailableOptions): Promise<KV> {
  return whileUnavailable("the known verdicts bucket", () => openKnownVerdictsBucketOnce(js, cfg), wait);
}

async function openKnownVerdictsBucketOnce(js: JetStreamClient, cfg: TopologyConfig): Promise<KV> {
  const wanted = knownVerdictsStreamConfig(cfg);
  const jsm = await js.jetstreamManager();
  if (cfg.mode === "check") {
    await checkStreams(jsm, [wanted]);
    return new Kvm(js).open(KNOWN_VERDICTS_BUCKET);
  }
  const what = `${wanted.max_bytes} bytes for the known verdicts bucket`;
  const kv = await reserving(what, () =>
    createRacing(() =>
      new Kvm(js).create(KNOWN_VERDICTS_BUCKET, { history: 1, storage: StorageType.File, replicas: cfg.replicas, ttl: cfg.streamMaxAgeMs, max_bytes: wanted.max_bytes }),
    ),
  );
  const { config } = await jsm.streams.info(wanted.name);
  if (config.discard !== wanted.discard || config.max_bytes !== wanted.max_bytes || config.max_age !== wanted.max_age) {
    const duplicate_window = Math.min(config.duplicate_window, wanted.max_age!);
    await reserving(what, () => jsm.streams.update(wanted.name, { ...config, max_bytes: wanted.max_bytes, max_age: wanted.max_age, discard: wanted.discard, duplicate_window }));
  }
  return kv;
}

export interface RateLimitBucketConfig {
  /** How long a counter outlives its last write (the bucket's max age): a bit longer than the window it counts. */
  maxAgeMs: number;
  maxBytes: number;
  replicas: number;
  /** Bound on every read and write: a slow JetStream must not hold a request for the client's 10 s default. */
  timeoutMs: number;
}

/**
 * The rate-limit counters' bucket: one small entry per counter (history 1), gone once idle
 * for its max age; a write past max_bytes fails (discard new), which the gateway answers by
 * admitting without a check. Its own JetStream context carries the short timeout.
 */
export async function openRateLimitBucket(nc: NatsConnection, cfg: RateLimitBucketConfig, wait?: WhileUnavailableOptions): Promise<KV> {
  const js = jetstream(nc, { timeout: cfg.timeoutMs });
  return whileUnavailable("the rate-limit bucket", () => openRateLimitBucketOnce(js, cfg), wait);
}

async function openRateLimitBucketOnce(js: JetStreamClient, cfg: RateLimitBucketConfig): Promise<KV> {
  const limits = { max_age: nanos(cfg.maxAgeMs), max_bytes: cfg.maxBytes };
  const kv = await reserving(`${cfg.maxBytes} bytes for the rate-limit bucket`, () =>
    createRacing(() =>
      new Kvm(js).create(RATE_LIMITS_BUCKET, { history: 1, storage: StorageType.File, replicas: cfg.replicas, ttl: cfg.maxAgeMs, max_bytes: cfg.maxBytes }),
    ),
  );
  await ensureBucketLimits(await js.jetstreamManager(), `KV_${RATE_LIMITS_BUCKET}`, limits);
  return kv;
}

/** A bucket create that services starting together race on: the loser's create fails, and a retry finds the bucket. */
async function createRacing<T>(create: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await create();
    } catch (err) {
      if (attempt >= 3 || !(isAlreadyExists(err, "stream") || isSubjectOverlap(err))) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}
