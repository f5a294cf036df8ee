import type { EnvReader } from "@veriflow/platform";

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** RETRY_BASE_MS (500) and RETRY_MAX_MS (30000): the retry backoff of every consumer. */
export function readBackoffPolicy(r: EnvReader): BackoffPolicy {
  return { baseMs: r.int("RETRY_BASE_MS", 500, { min: 1 }), maxMs: r.int("RETRY_MAX_MS", 30_000, { min: 1 }) };
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so
 * retries spread out without ever collapsing to zero. JetStream's consumer `backoff`
 * only applies to ack timeouts, not to nak(), so the loop computes the delay itself.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
