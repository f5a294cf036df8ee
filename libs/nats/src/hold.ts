import type { Logger } from "@veriflow/platform";
import { whileUnavailable, type Attempt } from "./while-unavailable.js";

/**
 * How long a submission is held while JetStream does not answer it, before the client is
 * told to come back (503 with Retry-After). A stream or bucket at R3 has no leader for
 * 4–8 s after its leader's node dies (measured on loopback, issue 11; nats-server 2.9 waits
 * 4–9 s before it elects another): held that long, a submission is answered a few seconds
 * late instead of refused.
 */
export interface HoldConfig {
  /** The whole budget of one submission, every step together (0: no holding). */
  budgetMs: number;
}

/** One submission's budget: its steps (upload put, request publish) retried within it. */
export interface Hold {
  /**
   * Runs `step`, again while NATS does not answer (timeout, no responders, no leader: the
   * typed errors of isNatsUnavailableError), until the budget is spent; any other error at
   * once. The step must be idempotent (a publish with a Nats-Msg-Id) and should give its
   * request `attempt.timeoutMs`, so one unanswered attempt does not spend the whole budget.
   */
  run<T>(what: string, step: (attempt: Attempt) => Promise<T>): Promise<T>;
  /** How long the submission has been held so far, in ms (0 when nothing had to be retried). */
  heldMs(): number;
}

/** Pauses between attempts: an election ends within seconds, so they stay short. */
const RETRY = { baseMs: 100, maxMs: 1000 };

export function startHold(config: HoldConfig, log: Logger): Hold {
  // The budget runs from the first step, not from the request's start: a slow client's upload time is not spent from it.
  let started = 0;
  // Each attempt waits a quarter of the budget (at least 1 s) for its answer: a publish to a
  // stream without a leader times out rather than failing fast, and must leave room to retry.
  const attemptTimeoutMs = Math.max(1000, Math.floor(config.budgetMs / 4));
  let retried = 0;
  // Every retry at debug: during an election every submission retries, and one line per submission says it was held.
  const quiet: Pick<Logger, "warn"> = {
    warn: ((obj: object, msg?: string) => {
      retried++;
      log.debug(obj, msg);
    }),
  };
  return {
    run(what, step) {
      if (config.budgetMs <= 0) return step({});
      started ||= Date.now();
      return whileUnavailable(what, step, { until: started + config.budgetMs, retry: RETRY, attemptTimeoutMs, log: quiet });
    },
    heldMs: () => (retried > 0 ? Date.now() - started : 0),
  };
}

/** No holding: each step once, with the client's own timeout (scripts, tests of other things). */
export const NO_HOLD: Hold = { run: (_what, step) => step({}), heldMs: () => 0 };
