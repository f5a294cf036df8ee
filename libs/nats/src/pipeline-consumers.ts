import type { ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import { jobPriorities, pipeline, stageDurable, STREAM_NAME, type JobPriority } from "@veriflow/events";
import { isNotFound } from "./nats-errors.js";

/** One durable consumer of the pipeline, as JetStream reports it now. */
export interface PipelineConsumer {
  /** The service that reads through it (`pipeline` descriptor). */
  service: string;
  durable: string;
  /** A stage is a step of every job; an observer reads every event (status, webhooks). */
  kind: "stage" | "observer";
  /** A stage reads each priority class through its own consumer (topology.ts); null for an observer. */
  priority: JobPriority | null;
  /** null while the consumer does not exist (its service has not started yet). */
  info: ConsumerInfo | null;
}

/**
 * Every consumer the pipeline declares, stages first in pipeline order (each stage's
 * interactive consumer, then its bulk one), then observers: one
 * CONSUMER.INFO each, in parallel. Admission control, the consumer metrics and the dashboard's
 * pipeline view all read the queue through this, so "backlog" means one thing everywhere.
 */
export async function readPipelineConsumers(jsm: JetStreamManager): Promise<PipelineConsumer[]> {
  const declared = [
    ...pipeline.stages.flatMap((s) => jobPriorities.map((priority) => ({ service: s.service, durable: stageDurable(s.service, priority), kind: "stage" as const, priority }))),
    ...pipeline.observers.map((o) => ({ service: o.service, durable: o.durable, kind: "observer" as const, priority: null })),
  ];
  const infos = await Promise.all(declared.map((c) => readConsumerInfo(jsm, c.durable)));
  return declared.map((c, i) => ({ ...c, info: infos[i] ?? null }));
}

/** A consumer's waiting plus unacknowledged messages: the work it has not finished. */
export function backlogOf(info: ConsumerInfo | null): number {
  return info ? info.num_pending + info.num_ack_pending : 0;
}

function readConsumerInfo(jsm: JetStreamManager, durable: string): Promise<ConsumerInfo | null> {
  return jsm.consumers.info(STREAM_NAME, durable).catch((err: unknown) => {
    // Not created yet (its service has not started): it holds no backlog of its own.
    if (isNotFound(err, "consumer")) return null;
    throw err;
  });
}
