import { Counter, Histogram } from "prom-client";
import { registerMetrics } from "@veriflow/platform";

export const httpRequests = new Counter({
  name: "veriflow_http_requests_total",
  help: "HTTP requests answered, by service, route and status.",
  labelNames: ["service", "route", "status"] as const,
  registers: [],
});

export const httpSeconds = new Histogram({
  name: "veriflow_http_request_seconds",
  help: "HTTP request latency by service and route.",
  labelNames: ["service", "route"] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [],
});

/** Called by httpMetrics() when an app mounts it: a process that serves HTTP reports these. */
export function registerHttpMetrics(): void {
  registerMetrics(httpRequests, httpSeconds);
}
