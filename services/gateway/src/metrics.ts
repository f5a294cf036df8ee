import { Counter, Gauge } from "prom-client";
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

export const fallbackVerifications = new Counter({
  name: "veriflow_fallback_verifications_total",
  help: "Submissions verified in-process by the gateway while the queue was unreachable, by outcome (completed, failed, timeout, error).",
  labelNames: ["outcome"] as const,
  registers: [],
});

export const fallbackRejected = new Counter({
  name: "veriflow_fallback_rejected_total",
  help: "Submissions refused with 503 E_FALLBACK_BUSY: every in-process slot (GATEWAY_FALLBACK_CONCURRENCY) was taken.",
  registers: [],
});

export const fallbackRunning = new Gauge({
  name: "veriflow_fallback_running",
  help: "In-process verifications holding a slot now (at most GATEWAY_FALLBACK_CONCURRENCY).",
  registers: [],
});

export const heldSubmissions = new Counter({
  name: "veriflow_held_submissions_total",
  help: "Submissions held and retried while JetStream did not answer (a stream or bucket without a leader), by outcome (accepted, refused: 503 once GATEWAY_HOLD_MS was spent).",
  labelNames: ["outcome"] as const,
  registers: [],
});

/** Called from the gateway's composition root. */
export function registerGatewayMetrics(): void {
  registerMetrics(rateLimited, rateLimitUnchecked, fallbackVerifications, fallbackRejected, fallbackRunning, heldSubmissions);
}
