import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@veriflow/platform";
import { backoffDelay, type BackoffPolicy } from "./backoff.js";
import { isNatsUnavailableError } from "./nats-errors.js";

export interface WhileUnavailableOptions {
  /** Where each retry is reported (operators see what a starting service waits for). */
  log?: Pick<Logger, "warn">;
  /** How long to keep trying before the last error is thrown. */
  waitMs?: number;
  /** Instead of waitMs: when (Date.now()) to stop, shared by several steps of one budget (hold.ts). */
  until?: number;
  /** The pause between attempts (default 250 ms doubling to 5 s), never past the deadline. */
  retry?: BackoffPolicy;
  /** The longest one attempt should wait for its answer (passed to the step; never past the deadline). */
  attemptTimeoutMs?: number;
}

/** What a step is told about its attempt: how long it may wait for an answer (undefined: the client's default). */
export interface Attempt {
  timeoutMs?: number;
}

/** Two minutes: longer than a JetStream leader election or a busy server's API backlog. */
const DEFAULT_WAIT_MS = 120_000;
const RETRY: BackoffPolicy = { baseMs: 250, maxMs: 5000 };
/** The least an attempt is given, even at the end of its budget: a request needs a round trip. */
const MIN_ATTEMPT_MS = 250;

/**
 * Runs an idempotent JetStream step again while NATS does not answer it: a timed-out API
 * request on a busy server, no responders while JetStream starts or while a stream has no
 * leader, a connection being re-established. Services started together with nats-server
 * then wait instead of exiting, and the gateway holds a submission through a leader
 * election; any other error (a refused config, a full store) is thrown at once.
 */
export async function whileUnavailable<T>(what: string, step: (attempt: Attempt) => Promise<T>, opts: WhileUnavailableOptions = {}): Promise<T> {
  const deadline = opts.until ?? Date.now() + (opts.waitMs ?? DEFAULT_WAIT_MS);
  const timeoutFor = () => (opts.attemptTimeoutMs === undefined ? undefined : Math.max(MIN_ATTEMPT_MS, Math.min(opts.attemptTimeoutMs, deadline - Date.now())));
  for (let attempt = 1; ; attempt++) {
    try {
      return await step({ timeoutMs: timeoutFor() });
    } catch (err) {
      if (!isNatsUnavailableError(err) || Date.now() >= deadline) throw err;
      opts.log?.warn({ err, attempt, what }, `JetStream did not answer (${what}); trying again`);
      await sleep(Math.min(backoffDelay(attempt, opts.retry ?? RETRY), Math.max(0, deadline - Date.now())));
    }
  }
}
