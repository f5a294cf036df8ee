import { Counter } from "prom-client";
import { registerMetrics } from "@veriflow/platform";

export const rateLimited = new Counter({
  name: "veriflow_rate_limited_total",
  help: "Requests refused for their rate limit (429, RESOURCE_EXHAUSTED), by surface (rest, grpc) and budget (submit, read).",
  labelNames: ["surface", "budget"] as const,
  registers: [],
});

export const rateLimitUnchecked = new Counter({
  name: "veriflow_rate_limit_unchecked_total",
  help: "Requests admitted without a rate-limit check because the counters' bucket did not answer (NATS down, full, slow), by budget.",
  labelNames: ["budget"] as const,
  registers: [],
});

/** Called from the gateway's composition root. */
export function registerGatewayMetrics(): void {
  registerMetrics(rateLimited, rateLimitUnchecked);
}
