import { Counter, Histogram } from "prom-client";
import { registerMetrics } from "@veriflow/platform";

export const messagesHandled = new Counter({
  name: "veriflow_messages_handled_total",
  help: "Pipeline messages handled, by consumer and outcome (ok, already_done, retry, failed, dead_letter).",
  labelNames: ["consumer", "outcome"] as const,
  registers: [],
});

export const handlerSeconds = new Histogram({
  name: "veriflow_handler_seconds",
  help: "Time a consumer's handler took per message (or per batch for batch consumers).",
  labelNames: ["consumer"] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [],
});

export const consumerRecreated = new Counter({
  name: "veriflow_consumer_recreated_total",
  help: "Durable consumers this process found missing and recreated, by consumer.",
  labelNames: ["consumer"] as const,
  registers: [],
});

/** Called by each consume loop as it starts: a process that consumes reports these. */
export function registerConsumerMetrics(): void {
  registerMetrics(messagesHandled, handlerSeconds, consumerRecreated, stageSeconds, deadLetters);
}

/** From a job's first event to its outputs: 5 ms (a quiet pipeline) to 10 min (a long backlog or retries). */
export const PIPELINE_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export const stageSeconds = new Histogram({
  name: "veriflow_stage_duration_seconds",
  help: "Per consumer, from the consumed event's occurredAt to the consumer's outputs being published (stages) or applied (status): queue wait, retries and handling. Outcome ok or failed (gave up).",
  labelNames: ["consumer", "outcome"] as const,
  buckets: PIPELINE_SECONDS_BUCKETS,
  registers: [],
});

export const deadLetters = new Counter({
  name: "veriflow_dead_letters_total",
  help: "Messages a consumer set aside in VERIFLOW_DLQ, by consumer and reason (undecodable, an E_* code, or other).",
  labelNames: ["consumer", "reason"] as const,
  registers: [],
});

/**
 * One consumed event done with: its age when its outputs were published, queue wait included
 * (occurredAt is stamped by the producing service: a skewed clock reads as 0, never negative).
 */
export function observeStageDuration(consumer: string, event: { occurredAt: string }, outcome: "ok" | "failed", now = Date.now()): void {
  const at = Date.parse(event.occurredAt);
  if (Number.isNaN(at)) return;
  stageSeconds.observe({ consumer, outcome }, Math.max(0, now - at) / 1000);
}
