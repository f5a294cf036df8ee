import { Counter } from "prom-client";
import { registerMetrics } from "@veriflow/platform";

export const webhookAttempts = new Counter({
  name: "veriflow_webhook_attempts_total",
  help: "Webhook delivery attempts, by outcome (delivered, retry, failed, gone, superseded).",
  labelNames: ["outcome"] as const,
  registers: [],
});

/** Called from the webhooks composition root. */
export function registerWebhooksMetrics(): void {
  registerMetrics(webhookAttempts);
}
