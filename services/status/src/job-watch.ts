import { isTerminal } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import { isNewer, matchesFilter, type JobFilter } from "./job-filter.js";
import type { JobChanges } from "./job-changes.js";
import type { Job } from "./store.js";

/**
 * Waits for values pushed from callbacks; keeps only what the consumer has not taken
 * (`latest: true` keeps just the newest, for state that supersedes itself). Otherwise it
 * keeps at most `maxItems`: a consumer that falls further behind is told so by `take`
 * (503 E_WATCH_TOO_SLOW), instead of the inbox growing without bound.
 */
class Inbox<T> {
  private items: T[] = [];
  private wake: (() => void) | undefined;
  private overflowed = false;
  constructor(
    private readonly latest: boolean,
    private readonly maxItems = Number.POSITIVE_INFINITY,
    private readonly onOverflow?: () => void,
  ) {}
  push(item: T) {
    if (this.latest) this.items = [item];
    else if (this.items.length < this.maxItems) this.items.push(item);
    else if (!this.overflowed) {
      this.overflowed = true;
      this.onOverflow?.();
    }
    this.wake?.();
  }
  /** The next item, or undefined once `signal` aborts; throws once items were dropped. */
  async take(signal: AbortSignal): Promise<T | undefined> {
    while (this.items.length === 0 && !this.overflowed) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal.addEventListener("abort", onAbort, { once: true });
        this.wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
      });
      this.wake = undefined;
    }
    if (this.overflowed) {
      throw new HttpError("E_WATCH_TOO_SLOW", `the watch fell ${this.maxItems} jobs behind and was closed; read faster, or page through ListJobs`, { expose: true });
    }
    return signal.aborted ? undefined : this.items.shift();
  }
}

/**
 * Opens a watch on one job: listens first, then reads the current row (so no change can
 * slip between the two). Null when the job is unknown. The updates start with the current
 * state, then each newer state (a slow reader gets the latest, never an older one), and
 * end after the terminal state or when `signal` aborts; the listener goes either way.
 */
export async function openJobWatch(
  changes: JobChanges,
  loadJob: () => Promise<Job | null>,
  jobId: string,
  signal: AbortSignal,
): Promise<AsyncGenerator<Job, void> | null> {
  const inbox = new Inbox<Job>(true);
  const off = changes.onJob(jobId, (job) => inbox.push(job));
  signal.addEventListener("abort", off, { once: true });
  let initial: Job | null;
  try {
    initial = await loadJob();
  } catch (err) {
    off();
    throw err;
  }
  if (!initial || signal.aborted) {
    off();
    return null;
  }
  const first = initial;
  return (async function* updates() {
    try {
      let last = first;
      yield last;
      while (!isTerminal(last.status)) {
        const next = await inbox.take(signal);
        if (!next) return;
        if (!isNewer(last, next)) continue;
        last = next;
        yield last;
      }
    } finally {
      off();
    }
  })();
}

/** How many jobs a WatchJobs stream may fall behind its client before it is closed (STATUS_WATCH_MAX_BUFFERED). */
export const DEFAULT_WATCH_MAX_BUFFERED = 1000;

/**
 * A tenant's jobs turning completed or failed that match `filter`, as they happen, until `signal`
 * aborts. Once the reader is `maxBuffered` jobs behind, `onOverflow` is called (to stop
 * waiting on a stalled transport) and the next read throws 503 E_WATCH_TOO_SLOW.
 */
export async function* watchTerminalJobs(
  changes: JobChanges,
  tenant: string,
  filter: JobFilter,
  signal: AbortSignal,
  opts: { maxBuffered?: number; onOverflow?: () => void } = {},
): AsyncGenerator<Job, void> {
  const inbox = new Inbox<Job>(false, opts.maxBuffered ?? DEFAULT_WATCH_MAX_BUFFERED, opts.onOverflow);
  const off = changes.onTerminal((job) => {
    if (job.tenant === tenant && matchesFilter(job, filter)) inbox.push(job);
  });
  signal.addEventListener("abort", off, { once: true });
  try {
    for (;;) {
      const job = await inbox.take(signal);
      if (!job) return;
      yield job;
    }
  } finally {
    off();
  }
}
