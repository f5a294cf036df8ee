import type { JetStreamManager } from "@nats-io/jetstream";
import { createScrapeReading, createScrapedGauge, registerMetrics, type Logger, type ScrapeReading } from "@veriflow/platform";
import { countDeadLetters, type DeadLetterCounts } from "./dead-letters.js";
import { readPipelineConsumers, type PipelineConsumer } from "./pipeline-consumers.js";

/**
 * The queue as JetStream reports it, read when Prometheus scrapes: every pipeline consumer's
 * state (readPipelineConsumers, one CONSUMER.INFO each) and the dead letters per consumer (one
 * STREAM.INFO of VERIFLOW_DLQ). The status service exports them for the whole pipeline, not each
 * stage for itself: a stage that is down, or has no replica left, is when its backlog matters
 * most. Every status replica reports the same values, so queries take `max by (consumer)`.
 */
export interface QueueReading {
  consumers: PipelineConsumer[];
  deadLetters: DeadLetterCounts;
}

const labels = ["consumer", "kind"] as const;

/** The reading the gauges below export; set by registerQueueMetrics (the last caller's, should a test start status twice). */
let source: ScrapeReading<QueueReading> | undefined;

/** A gauge per consumer that exists (one not created yet has no series). */
function consumerGauge(name: string, help: string, value: (c: NonNullable<PipelineConsumer["info"]>) => number) {
  return createScrapedGauge<QueueReading, (typeof labels)[number]>({
    name,
    help,
    labelNames: labels,
    reading: () => source,
    update: (reading, set) => {
      for (const c of reading.consumers) if (c.info) set({ consumer: c.durable, kind: c.kind }, value(c.info));
    },
  });
}

export const consumerPending = consumerGauge(
  "veriflow_consumer_pending_messages",
  "Messages of the events stream a pipeline consumer has not yet been delivered (JetStream num_pending), by consumer and kind (stage, observer).",
  (i) => i.num_pending,
);
export const consumerAckPending = consumerGauge(
  "veriflow_consumer_ack_pending_messages",
  "Messages delivered to a pipeline consumer and not yet acknowledged: in hand or waiting for a retry (num_ack_pending).",
  (i) => i.num_ack_pending,
);
export const consumerRedelivered = consumerGauge(
  "veriflow_consumer_redelivered_messages",
  "Unacknowledged messages of a consumer delivered more than once: retries, or a replica that died holding them (num_redelivered).",
  (i) => i.num_redelivered,
);
export const consumerWaiting = consumerGauge(
  "veriflow_consumer_waiting_pulls",
  "Pull requests waiting on a consumer (num_waiting): 0 with a backlog means no replica is pulling.",
  (i) => i.num_waiting,
);
export const consumerAckFloor = consumerGauge(
  "veriflow_consumer_ack_floor_sequence",
  "The events stream sequence up to which a consumer has acknowledged everything: it climbs while the consumer makes progress.",
  (i) => i.ack_floor.stream_seq,
);

export const deadLetterMessages = createScrapedGauge<QueueReading, "consumer">({
  name: "veriflow_dead_letter_messages",
  help: "Messages in the VERIFLOW_DLQ stream, by the consumer that set them aside (reading or replaying one removes it).",
  labelNames: ["consumer"],
  reading: () => source,
  update: (reading, set) => {
    // Every consumer of the pipeline has a series, 0 when it has none: an alert on > 0 needs no `or`.
    for (const c of reading.consumers) set({ consumer: c.durable }, 0);
    for (const [consumer, n] of Object.entries(reading.deadLetters.byConsumer)) set({ consumer }, n);
  },
});

/** Reads the queue once; what the gauges' reading calls (and a test can call). */
export async function readQueue(jsm: JetStreamManager): Promise<QueueReading> {
  const [consumers, deadLetters] = await Promise.all([readPipelineConsumers(jsm), countDeadLetters(jsm)]);
  return { consumers, deadLetters };
}

/** Exports the queue gauges from this process, read through `jsm` on scrape (cached `ttlMs`, bounded by `timeoutMs`). */
export function registerQueueMetrics(jsm: JetStreamManager, log: Logger, opts: { ttlMs?: number; timeoutMs?: number } = {}): void {
  source = createScrapeReading(() => readQueue(jsm), { ...opts, onError: (err) => log.debug({ err }, "queue metrics: JetStream not read") });
  registerMetrics(consumerPending, consumerAckPending, consumerRedelivered, consumerWaiting, consumerAckFloor, deadLetterMessages);
}
