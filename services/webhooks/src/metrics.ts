import { Counter } from "prom-client";
import { createScrapeReading, createScrapedGauge, registerMetrics, type Logger, type ScrapeReading } from "@veriflow/platform";
import type { DeliveryBacklog } from "./store.js";

export const webhookAttempts = new Counter({
  name: "veriflow_webhook_attempts_total",
  help: "Webhook delivery attempts, by outcome (delivered, retry, failed, gone, superseded).",
  labelNames: ["outcome"] as const,
  registers: [],
});

/** The backlog the gauges below export, read on scrape; set by registerWebhooksMetrics. */
let backlog: ScrapeReading<DeliveryBacklog> | undefined;

export const webhookPending = createScrapedGauge<DeliveryBacklog, "state">({
  name: "veriflow_webhook_deliveries_pending",
  help: "Webhook deliveries not yet settled, by state: waiting (never tried) and retrying (tried, due again). Every replica reports the same table: take max.",
  labelNames: ["state"],
  reading: () => backlog,
  update: (b, set) => {
    set({ state: "waiting" }, b.waiting);
    set({ state: "retrying" }, b.retrying);
  },
});

export const webhookOldestWaiting = createScrapedGauge<DeliveryBacklog>({
  name: "veriflow_webhook_oldest_waiting_seconds",
  help: "Age of the oldest webhook delivery never tried yet (0 when none): it should go out within seconds of its event.",
  reading: () => backlog,
  update: (b, set) => set({}, b.oldestWaitingAt ? Math.max(0, Date.now() - b.oldestWaitingAt.getTime()) / 1000 : 0),
});

/** Called from the webhooks composition root with the backlog's reader (store.ts readDeliveryBacklog). */
export function registerWebhooksMetrics(readBacklog: () => Promise<DeliveryBacklog>, log: Logger): void {
  backlog = createScrapeReading(readBacklog, { onError: (err) => log.debug({ err }, "webhook backlog not read") });
  registerMetrics(webhookAttempts, webhookPending, webhookOldestWaiting);
}
