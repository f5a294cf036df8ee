import { randomUUID } from "node:crypto";
import type { Accepted, ApiClient, SubmitInput, WatchAccepted, WatchInput } from "./api.js";
import { ApiError, InterruptedError } from "./errors.js";

/**
 * Answers that say "not now, come back": the gateway's queue or a store is full (503, 507),
 * a rate limit (429), or an earlier attempt with the same Idempotency-Key is still being
 * received (409 E_IDEMPOTENCY_KEY_IN_PROGRESS, which only a retry of ours can meet).
 */
export function isComeBackLater(err: unknown): err is ApiError {
  if (!(err instanceof ApiError)) return false;
  return err.status === 503 || err.status === 507 || err.status === 429 || (err.status === 409 && err.code === "E_IDEMPOTENCY_KEY_IN_PROGRESS");
}

/** The wait when such an answer names none: what the gateway itself names for an unlisted 503. */
export const DEFAULT_RETRY_DELAY_MS = 5000;
/** The least wait between attempts, whatever an answer says: Retry-After counts whole seconds. */
export const MIN_RETRY_DELAY_MS = 1000;

/**
 * A `Retry-After` header (delay-seconds, or an HTTP date) as milliseconds from `now`, at
 * least MIN_RETRY_DELAY_MS; DEFAULT_RETRY_DELAY_MS when absent or unreadable.
 */
export function retryDelayMs(header: string | null, now = Date.now()): number {
  const value = header?.trim() ?? "";
  let ms = DEFAULT_RETRY_DELAY_MS;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  // An HTTP date names its weekday: "Wed, 21 Oct 2015 07:28:00 GMT".
  else if (/^[A-Za-z]{3}, /.test(value) && !Number.isNaN(Date.parse(value))) ms = Date.parse(value) - now;
  return Math.max(MIN_RETRY_DELAY_MS, ms);
}

export interface RetryOptions {
  /** The most the retries may wait in all; 0: no retry. */
  retryForMs: number;
  signal?: AbortSignal;
  /** Told before each wait (for a line on stderr). */
  onWait(wait: { err: ApiError; delayMs: number; attempt: number; leftMs: number }): void;
}

/**
 * Submits once, and again after each "come back later" answer once its `Retry-After` has
 * passed, for as long as `retryForMs` allows; every attempt carries the same generated
 * Idempotency-Key, so an attempt that was accepted although its answer never arrived (or
 * arrived as a proxy's 503) is answered with its job instead of making a second one. Past
 * the bound, the last answer is the error (exit 5, like any HTTP error).
 */
export async function submitWithRetries(api: ApiClient, input: SubmitInput, opts: RetryOptions): Promise<Accepted> {
  return withRetries((idempotencyKey) => api.submit({ ...input, idempotencyKey }), opts, input.idempotencyKey);
}

/** A watch's create, retried as a submission is: one Idempotency-Key for every attempt, so one watch. */
export async function createWatchWithRetries(api: ApiClient, input: WatchInput, opts: RetryOptions): Promise<WatchAccepted> {
  return withRetries((idempotencyKey) => api.createWatch({ ...input, idempotencyKey }), opts, input.idempotencyKey);
}

/** Runs `attempt` with one key (`key`, or a new UUID) until it is not told to come back later, within `retryForMs`. */
async function withRetries<T>(attempt: (idempotencyKey: string) => Promise<T>, opts: RetryOptions, key: string = randomUUID()): Promise<T> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(key);
    } catch (err) {
      if (!isComeBackLater(err)) throw err;
      const delayMs = retryDelayMs(err.retryAfter);
      const leftMs = opts.retryForMs - (Date.now() - started);
      if (opts.retryForMs === 0 || delayMs > leftMs) throw givenUp(err, n, opts.retryForMs);
      opts.onWait({ err, delayMs, attempt: n, leftMs });
      await sleep(delayMs, opts.signal);
    }
  }
}

function givenUp(err: ApiError, attempts: number, retryForMs: number): ApiError {
  const why = retryForMs === 0 ? "not retried (--retry-for 0)" : `still answered after ${attempts} attempts, and the next wait would pass --retry-for ${retryForMs / 1000} s`;
  return new ApiError(err.status, err.code, `${err.message} (${why})`, err.requestId, err.retryAfter);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError(null));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError(null));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
