import { watchStreams } from "./metrics.js";
import type { Logger } from "@veriflow/platform";
import type { Notifier } from "./notify.js";
import type { Sql } from "@veriflow/pg";
import { JOB_CHANGED_SUBJECT, isTerminal } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import { getJobs, getTerminalJobsSince, type Job } from "./store.js";

/** Most terminal jobs one safety-net poll hands to WatchJobs listeners. */
const POLL_LIMIT = 1000;

/**
 * A batch's changed jobs go out as one notification on this subject, their ids in the payload
 * (one per line): one message per committed batch instead of one per job cut the status
 * service's NATS messages by a fifth (bench). A single job id as the last token (what earlier
 * versions sent) is still heard, so replicas of both kinds can run side by side.
 */
const BATCH_SUBJECT = `${JOB_CHANGED_SUBJECT}.batch`;
/** Ids per notification: 1000 uuids are about 37 KB, well under NATS' max_payload. */
const IDS_PER_NOTIFICATION = 1000;

/** The job ids a change notification names: a batch's payload, or (earlier versions) its subject's last token. */
export function announcedJobIds(subject: string, payload: string): string[] {
  if (subject === BATCH_SUBJECT) return payload.split("\n").filter((id) => id !== "");
  return [subject.slice(JOB_CHANGED_SUBJECT.length + 1)];
}

export interface JobChangesOptions {
  notifier: Notifier;
  sql: Sql;
  log: Logger;
  /** The safety net: watched jobs are re-read this often even without a notification. */
  pollMs: number;
  /** Most watches (SSE, WatchJob, WatchJobs) open at once on this replica; more are refused. */
  maxWatches?: number;
}

export interface JobChanges {
  /** After a batch is committed: tells every status replica (this one too) which jobs changed. */
  announce(jobIds: readonly string[]): void;
  /**
   * Calls `listener` with the job's row whenever it may have changed; returns the unsubscribe.
   * Throws 503 E_TOO_MANY_WATCHES (Retry-After) when `maxWatches` are open (onTerminal too).
   */
  onJob(jobId: string, listener: (job: Job) => void): () => void;
  /** Calls `listener` once with each job that turns completed or failed from now on. */
  onTerminal(listener: (job: Job) => void): () => void;
  stop(): void;
}

/**
 * The job change feed. The projection announces changed job ids on core NATS after its
 * transaction commits, so every replica hears of every change once PostgreSQL has it;
 * each replica holds one subscription, re-reads the announced jobs that someone here
 * watches (one query per burst, whatever the number of watchers) and hands the rows out.
 * Notifications can be lost (reconnects), so watched jobs are also re-read every `pollMs`.
 * Reads run one at a time, so a listener never sees an older row after a newer one.
 */
export function createJobChanges(opts: JobChangesOptions): JobChanges {
  const byJob = new Map<string, Set<(job: Job) => void>>();
  /** WatchJobs listeners, with when each began (the poll hands them no older completions). */
  const terminalListeners = new Map<(job: Job) => void, number>();
  /** Terminal jobs already handed out (by job and run), with when: a run turns terminal once. */
  const terminalSeen = new Map<string, number>();
  const pending = new Set<string>();
  const lookbackMs = Math.max(10_000, opts.pollMs * 3);
  let reads: Promise<void> = Promise.resolve();
  let flushQueued = false;
  let stopped = false;
  let open = 0;
  const maxWatches = opts.maxWatches ?? Number.POSITIVE_INFINITY;
  const admit = () => {
    if (open >= maxWatches) {
      throw new HttpError("E_TOO_MANY_WATCHES", `this status replica has ${maxWatches} watches open; reconnect shortly`, { expose: true, retryAfterSeconds: 5 });
    }
    open += 1;
  };

  const run = (what: string, read: () => Promise<void>) => {
    reads = reads.then(read).catch((err: unknown) => opts.log.warn({ err }, `${what} failed`));
    return reads;
  };

  const dispatch = (jobs: readonly Job[], fromPoll = false) => {
    for (const job of jobs) {
      for (const l of byJob.get(job.id) ?? []) l(job);
      const seenKey = `${job.id}/${job.run}`;
      if (isTerminal(job.status) && terminalListeners.size > 0 && !terminalSeen.has(seenKey)) {
        terminalSeen.set(seenKey, Date.now());
        for (const [l, since] of terminalListeners) {
          // 1 s of slack: a row's updated_at is its transaction's start, a little before its commit.
          if (!fromPoll || job.updatedAt.getTime() >= since - 1000) l(job);
        }
      }
    }
  };

  const flush = () => {
    flushQueued = false;
    const ids = [...pending].filter((id) => byJob.has(id) || terminalListeners.size > 0);
    pending.clear();
    if (ids.length === 0) return Promise.resolve();
    return run("watch re-read", async () => dispatch(await getJobs(opts.sql, ids)));
  };

  const sub = opts.notifier.subscribe(`${JOB_CHANGED_SUBJECT}.*`, (subject, payload) => {
    for (const id of announcedJobIds(subject, payload)) pending.add(id);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(() => void flush()); // one read for a burst of notifications
    }
  });

  let lastPoll = new Date();
  const poll = async () => {
    const since = new Date(lastPoll.getTime() - lookbackMs);
    lastPoll = new Date();
    const cutoff = Date.now() - 2 * lookbackMs;
    for (const [id, at] of terminalSeen) if (at < cutoff) terminalSeen.delete(id);
    if (byJob.size > 0) dispatch(await getJobs(opts.sql, [...byJob.keys()]));
    if (terminalListeners.size > 0) dispatch(await getTerminalJobsSince(opts.sql, since, POLL_LIMIT), true);
  };
  const timer = setInterval(() => {
    if (byJob.size > 0 || terminalListeners.size > 0) void run("watch poll", poll);
    else lastPoll = new Date();
  }, opts.pollMs);
  timer.unref();

  return {
    announce(jobIds) {
      if (stopped) return;
      for (let i = 0; i < jobIds.length; i += IDS_PER_NOTIFICATION) {
        opts.notifier.notify(BATCH_SUBJECT, jobIds.slice(i, i + IDS_PER_NOTIFICATION).join("\n"));
      }
    },
    onJob(jobId, listener) {
      admit();
      let set = byJob.get(jobId);
      if (!set) byJob.set(jobId, (set = new Set()));
      set.add(listener);
      watchStreams.inc({ kind: "job" });
      let done = false;
      return () => {
        if (done) return;
        done = true;
        watchStreams.dec({ kind: "job" });
        open -= 1;
        set.delete(listener);
        if (set.size === 0 && byJob.get(jobId) === set) byJob.delete(jobId);
      };
    },
    onTerminal(listener) {
      admit();
      if (terminalListeners.size === 0) lastPoll = new Date();
      terminalListeners.set(listener, Date.now());
      watchStreams.inc({ kind: "terminal" });
      let done = false;
      return () => {
        if (done) return;
        done = true;
        watchStreams.dec({ kind: "terminal" });
        open -= 1;
        terminalListeners.delete(listener);
        if (terminalListeners.size === 0) terminalSeen.clear();
      };
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      sub.unsubscribe();
    },
  };
}
