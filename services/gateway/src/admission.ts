import type { ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import { jobPriorities, pipeline, STREAM_NAME, UPLOADS_BUCKET, type JobPriority } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import { backlogOf, readPipelineConsumers } from "@veriflow/nats";
import type { Logger } from "@veriflow/platform";

/**
 * Admission control: whether the queue can take one more job now. Read from JetStream
 * (stream and consumer infos), at most once per `refreshMs` whatever the request rate and in
 * the background; requests are judged against the last reading plus the jobs this replica
 * accepted since.
 *
 * - backlog: pending + ack-pending messages of the stage consumers of the job's priority
 *   class. Past `maxBacklog` a job would wait longer than anyone wants: 503 E_QUEUE_BACKLOG.
 *   Each class is bounded on its own, since stages serve interactive work first: a batch of
 *   thousands fills the bulk backlog and refuses more bulk work, never a single verification.
 * - events stream: it keeps at most max_bytes and discards its oldest events past that.
 *   What some pipeline consumer has not acknowledged, plus what the unfinished jobs will
 *   still publish, must never reach those: past HIGH_WATER of max_bytes, 507
 *   E_STORAGE_FULL. Everything older is processed, so discarding it loses nothing.
 * - uploads bucket: a body larger than its free room (by Content-Length) would fail
 *   half-way; it is refused before a byte is read: 507 E_STORAGE_FULL.
 */
export interface Admission {
  /** Throws the 503/507 answer (with Retry-After) when the queue cannot take a job of `priority`, of about `uploadBytes`, now. */
  check(uploadBytes?: number, priority?: JobPriority): Promise<void>;
  /** Counts `jobs` (1) of `priority` this replica accepted, until the next reading includes them. */
  accepted(priority?: JobPriority, jobs?: number): void;
}

/** Share of the events stream's max_bytes that unprocessed events may fill. */
export const HIGH_WATER = 0.8;
/** The least an event is counted for: a verdict or a proof is larger than the request before it. */
const MIN_EVENT_BYTES = 2048;
/** A reading older than this is not trusted to refuse anything (JetStream stopped answering). */
const STALE_AFTER_READINGS = 10;
const RETRY_AFTER = { min: 1, max: 60, unknown: 5 } as const;

interface Reading {
  at: number;
  /** Unfinished messages of the stage consumers, per class. */
  backlog: Record<JobPriority, number>;
  /** Jobs the last stage finished (its ack floor), for the drain rate. */
  finished: number;
  /** Estimated bytes of events some pipeline consumer has not acknowledged, and the bound. */
  unprocessedBytes: number;
  averageEventBytes: number;
  streamMaxBytes: number;
  uploadsFreeBytes: number;
}

export function createAdmission(opts: { jsm: JetStreamManager; maxBacklog: number; log: Logger; refreshMs?: number }): Admission {
  const refreshMs = opts.refreshMs ?? 1000;
  let last: Reading | undefined;
  let previous: Reading | undefined;
  const acceptedSince = noneOfEach();
  let refreshing: Promise<void> | undefined;

  const refresh = () => {
    if (refreshing) return refreshing;
    // Jobs accepted while the read is under way may be missing from it: they stay counted
    // (erring toward a refusal), only those accepted before it started are let go.
    const countedBefore = { ...acceptedSince };
    return (refreshing = read(opts.jsm)
      .then((r) => {
        previous = last;
        last = r;
        for (const p of jobPriorities) acceptedSince[p] = Math.max(0, acceptedSince[p] - countedBefore[p]);
      })
      .catch((err: unknown) => opts.log.debug({ err }, "admission: queue state not read"))
      .finally(() => (refreshing = undefined)));
  };

  /** Seconds until the backlog is likely back under the bound, from the last stage's pace. */
  const retryAfter = (excess: number): number => {
    if (!last || !previous || last.at <= previous.at) return RETRY_AFTER.unknown;
    const perSecond = ((last.finished - previous.finished) * 1000) / (last.at - previous.at);
    if (perSecond <= 0) return RETRY_AFTER.unknown;
    return Math.min(RETRY_AFTER.max, Math.max(RETRY_AFTER.min, Math.ceil(excess / perSecond)));
  };

  /** Throws the answer when reading `r` (with the jobs accepted since) cannot take the job. */
  const judge = (r: Reading | undefined, uploadBytes: number | undefined, priority: JobPriority) => {
    if (!r || Date.now() - r.at > refreshMs * STALE_AFTER_READINGS) return; // unknown: the publish will tell
    const ofClass = r.backlog[priority] + acceptedSince[priority];
    if (ofClass >= opts.maxBacklog) {
      throw new HttpError("E_QUEUE_BACKLOG", `the queue holds ${ofClass} unfinished ${priority} jobs (limit ${opts.maxBacklog}); send it again later`, {
        expose: true,
        retryAfterSeconds: retryAfter(ofClass - opts.maxBacklog + 1),
      });
    }
    // The stream holds every class's events.
    const backlog = jobPriorities.reduce((n, p) => n + r.backlog[p] + acceptedSince[p], 0);
    // What the stream must hold without discarding anything unprocessed: the events waiting,
    // and the events the unfinished jobs will still publish (one per stage, at most).
    const needed = r.unprocessedBytes + backlog * pipeline.stages.length * Math.max(r.averageEventBytes, MIN_EVENT_BYTES);
    if (needed >= r.streamMaxBytes * HIGH_WATER) {
      throw new HttpError("E_STORAGE_FULL", "the events stream is nearly full of unprocessed events; send it again later", {
        expose: true,
        retryAfterSeconds: retryAfter(backlog / 2),
      });
    }
    if (uploadBytes !== undefined && uploadBytes > r.uploadsFreeBytes) {
      throw new HttpError("E_STORAGE_FULL", `the uploads bucket has room for ${Math.max(0, r.uploadsFreeBytes)} more bytes, not ${uploadBytes}; send it again later`, {
        expose: true,
        retryAfterSeconds: retryAfter(backlog),
      });
    }
  };

  return {
    async check(uploadBytes, priority = "interactive") {
      // Only the first request waits for a reading. After it, a request is judged against the last
      // one (and the jobs accepted since) while the next is read: under load that read waits
      // behind the queue's own traffic, and a single verification waited up to 2.5 s for it
      // (bench:priority).
      if (!last) await refresh();
      else if (Date.now() - last.at >= refreshMs) void refresh();
      try {
        judge(last, uploadBytes, priority);
      } catch (err) {
        // A refusal is judged on a fresh reading: an older one may still count work that has
        // finished since (a backlog that drained while no request came to read it).
        if (!last || Date.now() - last.at < refreshMs) throw err;
        await refresh();
        judge(last, uploadBytes, priority);
      }
    },
    accepted(priority = "interactive", jobs = 1) {
      acceptedSince[priority] += jobs;
    },
  };
}

const noneOfEach = (): Record<JobPriority, number> => ({ interactive: 0, bulk: 0 });

async function read(jsm: JetStreamManager): Promise<Reading> {
  const [stream, uploads, consumers] = await Promise.all([
    jsm.streams.info(STREAM_NAME),
    jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`),
    readPipelineConsumers(jsm),
  ]);
  const stages = consumers.filter((c) => c.kind === "stage");
  const backlog = noneOfEach();
  for (const c of stages) backlog[c.priority ?? "interactive"] += backlogOf(c.info);
  // The last stage finishes jobs through one consumer per priority class.
  const lastService = stages[stages.length - 1]?.service;
  const finished = stages.filter((c) => c.service === lastService).reduce((n, c) => n + (c.info?.ack_floor.consumer_seq ?? 0), 0);
  const { state, config } = stream;
  // The oldest event some pipeline consumer still needs; everything from there on is counted as
  // unprocessed (a filtered consumer's floor lags behind events it never takes: the estimate errs high).
  const busy = consumers.map((c) => c.info).filter((c): c is ConsumerInfo => backlogOf(c) > 0);
  const floors = busy.map((c) => c.ack_floor.stream_seq);
  const oldestNeeded = floors.length > 0 ? Math.max(state.first_seq, Math.min(...floors) + 1) : state.last_seq + 1;
  const unprocessedMessages = Math.max(0, state.last_seq - oldestNeeded + 1);
  const averageBytes = state.messages > 0 ? state.bytes / state.messages : 0;
  const uploadsMax = uploads.config.max_bytes > 0 ? uploads.config.max_bytes : Number.POSITIVE_INFINITY;
  return {
    at: Date.now(),
    backlog,
    finished,
    unprocessedBytes: Math.min(state.bytes, unprocessedMessages * averageBytes),
    averageEventBytes: averageBytes,
    streamMaxBytes: config.max_bytes > 0 ? config.max_bytes : Number.POSITIVE_INFINITY,
    uploadsFreeBytes: uploadsMax - uploads.state.bytes,
  };
}
