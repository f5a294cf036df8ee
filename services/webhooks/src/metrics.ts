import { Counter } from "prom-client";
import { metricsRegistry } from "@veriflow/platform";

export const webhookAttempts = new Counter({
  name: "veriflow_webhook_attempts_total",
  help: "Webhook delivery attempts, by outcome (delivered, retry, failed, gone, superseded).",
  labelNames: ["outcome"] as const,
  registers: [metricsRegistry],
});
