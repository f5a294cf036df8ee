import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@veriflow/platform";
import { backoffDelay } from "./backoff.js";
import { isNatsUnavailableError } from "./nats-errors.js";

export interface WhileUnavailableOptions {
  /** Where each retry is reported (operators see what a starting service waits for). */
  log?: Pick<Logger, "warn">;
  /** How long to keep trying before the last error is thrown. */
  waitMs?: number;
}

/** Two minutes: longer than a JetStream leader election or a busy server's API backlog. */
const DEFAULT_WAIT_MS = 120_000;
const RETRY = { baseMs: 250, maxMs: 5000 };

/**
 * Runs an idempotent JetStream set-up step (a stream, consumer or bucket made to exist)
 * again while NATS does not answer it: a timed-out API request on a busy server, no
 * responders while JetStream starts, a connection being re-established. Services started
 * together with nats-server, or all at once against a loaded one, then wait instead of
 * exiting; any other error (a refused config, a full store) is thrown at once.
 */
export async function whileUnavailable<T>(what: string, step: () => Promise<T>, opts: WhileUnavailableOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? DEFAULT_WAIT_MS);
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!isNatsUnavailableError(err) || Date.now() >= deadline) throw err;
      opts.log?.warn({ err, attempt, what }, `JetStream did not answer (${what}); trying again`);
      await sleep(backoffDelay(attempt, RETRY));
    }
  }
}
