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
  registerMetrics(messagesHandled, handlerSeconds, consumerRecreated);
}
