import type { ApiClient, Job } from "./api.js";
import { InterruptedError, WaitTimeoutError } from "./errors.js";
import { isTerminal } from "./exit-codes.js";
import { readServerSentEvents } from "./sse.js";

export interface FollowOptions {
  /** Give up after this long (WaitTimeoutError); 0 or absent: no limit. */
  timeoutMs?: number;
  /** Called with every changed snapshot of the job, the terminal one included. */
  onUpdate?: (job: Job) => void;
  /** Called once the way of following is known (before the first update). */
  onFollow?: (via: "sse" | "poll") => void;
  /** Ctrl-C: aborts with InterruptedError. */
  signal?: AbortSignal;
  /** First poll interval (grows to maxPollMs while nothing changes). */
  pollMs?: number;
  maxPollMs?: number;
  /** While following events, a slow poll beside the stream (default 5000). */
  ssePollMs?: number;
}

export interface FollowResult {
  job: Job;
  /** How the job was followed: server-sent events, or polling where the server has none. */
  via: "sse" | "poll";
}

/**
 * Follows a job until it is completed or failed: through `GET …/:id/events` (server-sent
 * events) where the server offers it, else by polling `GET …/:id`. An event that carries the
 * job (`event: job`, the REST job as data) is used as is; any other event triggers a read of
 * the job, so the CLI depends on the events' arrival more than on their shape.
 */
export async function followJob(api: ApiClient, jobId: string, opts: FollowOptions = {}): Promise<FollowResult> {
  const abort = new AbortController();
  let last: Job | null = null;
  const report = (job: Job) => {
    if (!last || last.status !== job.status || last.progress !== job.progress || last.retryCount !== job.retryCount) opts.onUpdate?.(job);
    last = job;
    return job;
  };
  const stopped = new Promise<never>((_, reject) => {
    const timer = opts.timeoutMs ? setTimeout(() => reject(new WaitTimeoutError(jobId, last?.status ?? null)), opts.timeoutMs) : null;
    const onInterrupt = () => reject(new InterruptedError(jobId));
    if (opts.signal?.aborted) onInterrupt();
    opts.signal?.addEventListener("abort", onInterrupt, { once: true });
    abort.signal.addEventListener("abort", () => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onInterrupt);
    });
  });
  stopped.catch(() => {});
  try {
    return await Promise.race([follow(api, jobId, abort.signal, report, opts), stopped]);
  } finally {
    abort.abort();
  }
}

async function follow(api: ApiClient, jobId: string, signal: AbortSignal, report: (job: Job) => Job, opts: FollowOptions): Promise<FollowResult> {
  const events = await api.openEvents(jobId, signal).catch((err) => {
    if ((err as Error).name === "AbortError") throw err;
    return null; // the events route failing is no reason to fail: poll
  });
  opts.onFollow?.(events?.body ? "sse" : "poll");
  if (events?.body) {
    // Read once after subscribing: the job may have finished before the subscription.
    const first = report(await api.getJob(jobId, signal));
    if (isTerminal(first)) return { job: first, via: "sse" };
    const body = events.body;
    const viaEvents = async (): Promise<FollowResult> => {
      let final: Job | null = null;
      let finished = (_job: Job) => {};
      const terminal = new Promise<Job>((resolve) => (finished = resolve));
      const read = async () => {
        try {
          for await (const event of readServerSentEvents(body)) {
            if (final) continue; // the server ends the stream after the terminal job: let it
            const job = report(jobIn(event.data, jobId) ?? (await api.getJob(jobId, signal)));
            if (isTerminal(job)) finished((final = job));
          }
        } catch (err) {
          if (signal.aborted && !final) throw err;
        }
        return final;
      };
      // Once the job is terminal, give the server a moment to close the stream itself.
      const job = await Promise.race([read(), terminal.then((j) => sleep(500, signal).then(() => j))]);
      if (job) return { job, via: "sse" };
      // the stream ended or broke before the job finished: poll
      return { job: await poll(api, jobId, signal, report, opts), via: "poll" };
    };
    // A slow poll beside the stream, so a stream that stays silent cannot hang the wait.
    const safety = async (): Promise<FollowResult> => ({ job: await poll(api, jobId, signal, report, { pollMs: opts.ssePollMs ?? 5000, maxPollMs: opts.ssePollMs ?? 5000 }), via: "sse" });
    return Promise.race([viaEvents(), safety()]);
  }
  return { job: await poll(api, jobId, signal, report, opts), via: "poll" };
}

async function poll(api: ApiClient, jobId: string, signal: AbortSignal, report: (job: Job) => Job, opts: FollowOptions): Promise<Job> {
  const min = opts.pollMs ?? 200;
  const max = opts.maxPollMs ?? 2000;
  let interval = min;
  let seen = "";
  for (;;) {
    const job = report(await api.getJob(jobId, signal));
    if (isTerminal(job)) return job;
    const state = `${job.status}/${job.progress}`;
    interval = state === seen ? Math.min(max, Math.round(interval * 1.5)) : min;
    seen = state;
    await sleep(interval, signal);
    if (signal.aborted) throw signal.reason;
  }
}

/** The job an event's data carries, when it is one (the REST shape, this job, terminal with its outcome). */
function jobIn(data: string, jobId: string): Job | null {
  let value: any;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  const isJob = value?.id === jobId && typeof value.status === "string" && typeof value.progress === "number";
  if (!isJob) return null;
  if (value.status === "completed" && !value.result) return null;
  if (value.status === "failed" && !value.failure) return null;
  return value as Job;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
}
