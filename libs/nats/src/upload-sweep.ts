import type { JetStreamManager } from "@nats-io/jetstream";
import { Counter } from "prom-client";
import { EventDecodeError, decodeEvent, isJobId, pipeline, type EventType } from "@veriflow/events";
import { errorMessage } from "@veriflow/errors";
import { registerMetrics, type EnvReader, type Logger } from "@veriflow/platform";
import { DEFAULT_JETSTREAM_TIMEOUT_MS } from "./nats.js";
import { findLastMessage } from "./stream-lookup.js";
import { deleteUpload, nextUploadEntry, type UploadEntry } from "./uploads.js";

/**
 * The uploads sweep: the stage that reads uploads deletes each one after its hash or its
 * failure is acknowledged, but a crash between that ack and the delete (or a gateway dying
 * between storing an upload and publishing its request) leaves an upload nobody will read,
 * until the bucket's max age, days later. Each replica of that stage walks the bucket now
 * and then and deletes such uploads, judging each by what the events stream holds for its job.
 */

/** The stage that reads uploads (hashing, by the descriptor). Its service sweeps. */
export const UPLOAD_READER = pipeline.stages.find((s) => s.readsUploads)!;
const REQUEST: EventType = pipeline.edge.produces;
/** Events that show a job no longer needs its upload: what the upload's reader produces, or the job's end. */
const MOVED_ON: readonly EventType[] = [...UPLOAD_READER.produces, ...pipeline.terminal];

export interface UploadSweepConfig {
  /** How often each replica sweeps; 0 turns the sweep off. */
  intervalMs: number;
  /** Uploads younger than this are not looked at: no stream lookups for the work in hand. */
  minAgeMs: number;
  /** How long an upload may wait for its request event before it is taken for one whose request was never published. */
  orphanGraceMs: number;
}

const MINUTE = 60_000;
/**
 * The least grace an upload without a request gets: longer than the gateway's path from a
 * stored upload to its published request, which its JetStream publish timeout bounds.
 */
export const MIN_ORPHAN_GRACE_MS = DEFAULT_JETSTREAM_TIMEOUT_MS + 5000;

/** UPLOADS_SWEEP_INTERVAL_MS (5 min; 0: off), UPLOADS_SWEEP_MIN_AGE_MS (2 min), UPLOADS_SWEEP_GRACE_MS (10 min). */
export function readUploadSweepConfig(r: EnvReader): UploadSweepConfig {
  return {
    intervalMs: r.int("UPLOADS_SWEEP_INTERVAL_MS", 5 * MINUTE, { min: 0, max: 24 * 60 * MINUTE }),
    minAgeMs: r.int("UPLOADS_SWEEP_MIN_AGE_MS", 2 * MINUTE, { min: 0 }),
    orphanGraceMs: r.int("UPLOADS_SWEEP_GRACE_MS", 10 * MINUTE, { min: MIN_ORPHAN_GRACE_MS }),
  };
}

/** Why the sweep deletes an upload. */
export type SweepReason = "moved_on" | "no_request" | "tombstone";

export const uploadsSwept = new Counter({
  name: "veriflow_uploads_swept_total",
  help: "Uploads the sweep deleted, by reason: moved_on (its job was hashed or ended), no_request (no request event came for it), tombstone (a delete's leftover entry).",
  labelNames: ["reason"] as const,
  registers: [],
});

/**
 * What the sweep does with an upload old enough to look at, from the stream sequences of
 * its job's last request event and of the last event that shows the job moved on. Only a
 * move *after* the request counts: a retry that resumes at hashing publishes a new request
 * after the failure, and that run needs the upload.
 */
export function uploadFate(seen: { ageMs: number; requestSeq: number | null; movedOnSeq: number | null }, orphanGraceMs: number): SweepReason | "keep" {
  if (seen.requestSeq === null) return seen.ageMs >= orphanGraceMs ? "no_request" : "keep";
  return seen.movedOnSeq !== null && seen.movedOnSeq > seen.requestSeq ? "moved_on" : "keep";
}

export interface UploadSweepOptions extends Omit<UploadSweepConfig, "intervalMs"> {
  jsm: JetStreamManager;
  log: Logger;
  /** Most bucket entries one pass reads (each costs at most four stream lookups); the next pass goes on from there. */
  maxEntriesPerPass?: number;
  now?: () => number;
}

export interface SweepPass {
  /** Entries old enough to be judged. */
  examined: number;
  deleted: Partial<Record<SweepReason, number>>;
}

/**
 * One sweep pass at a time over the bucket, oldest entry first. A pass stops at the first
 * entry younger than `minAgeMs` (all later ones are younger still) or after
 * `maxEntriesPerPass` entries, and the next pass goes on where it stopped, so a long queue
 * of waiting uploads at the front never hides the rest. Deletes are idempotent, so replicas
 * sweeping side by side, or the stage deleting the same upload, do no harm.
 */
export function createUploadSweep(opts: UploadSweepOptions): () => Promise<SweepPass> {
  registerMetrics(uploadsSwept);
  const maxEntries = opts.maxEntriesPerPass ?? 1000;
  const now = opts.now ?? Date.now;
  let cursor = 1;

  const lastSeq = async (type: EventType, jobId: string, mustDecode: boolean): Promise<number | null> => {
    const stored = await findLastMessage(opts.jsm, type, jobId);
    if (stored === null) return null;
    // Bytes that are not an event prove nothing happened to the job.
    if (mustDecode) {
      try {
        decodeEvent(stored.data);
      } catch (err) {
        if (err instanceof EventDecodeError) return null;
        throw err;
      }
    }
    return stored.seq;
  };

  const judge = async (entry: UploadEntry): Promise<SweepReason | "keep"> => {
    if (entry.deleted) return "tombstone";
    const ageMs = now() - entry.storedAt.getTime();
    // Uploads are named after their job; any other name can have no request.
    if (!isJobId(entry.name)) return uploadFate({ ageMs, requestSeq: null, movedOnSeq: null }, opts.orphanGraceMs);
    const [requestSeq, ...moves] = await Promise.all([lastSeq(REQUEST, entry.name, false), ...MOVED_ON.map((t) => lastSeq(t, entry.name, true))]);
    const movedOnSeq = Math.max(0, ...moves.map((s) => s ?? 0)) || null;
    return uploadFate({ ageMs, requestSeq: requestSeq ?? null, movedOnSeq }, opts.orphanGraceMs);
  };

  return async () => {
    const pass: SweepPass = { examined: 0, deleted: {} };
    let seq = cursor;
    for (;;) {
      if (pass.examined >= maxEntries) break;
      const entry = await nextUploadEntry(opts.jsm, seq);
      if (entry === null || now() - entry.storedAt.getTime() < opts.minAgeMs) {
        seq = 1; // the rest is young: the next pass starts over
        break;
      }
      pass.examined++;
      seq = entry.seq + 1;
      const fate = await judge(entry);
      if (fate === "keep") continue;
      await deleteUpload(opts.jsm, entry);
      pass.deleted[fate] = (pass.deleted[fate] ?? 0) + 1;
      uploadsSwept.inc({ reason: fate });
      // A warning, as other repairs are: an upload left behind means a process died (or a publish failed) at the wrong moment.
      if (fate !== "tombstone") opts.log.warn({ upload: entry.name, reason: fate, storedAt: entry.storedAt.toISOString() }, "swept upload");
    }
    cursor = seq;
    return pass;
  };
}

export interface UploadSweep {
  /** One pass now (waits for a pass in progress instead of starting a second). */
  runOnce(): Promise<SweepPass>;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

/** Sweeps every `intervalMs`; a pass that fails (NATS down) is logged and the next one tries again. */
export function startUploadSweep(opts: UploadSweepOptions & { intervalMs: number }): UploadSweep {
  const log = opts.log.child({ component: "upload-sweep" });
  const sweepOnce = createUploadSweep({ ...opts, log });
  let running: Promise<SweepPass> | undefined;
  const runOnce = () =>
    (running ??= sweepOnce().finally(() => {
      running = undefined;
    }));
  const tick = async () => {
    try {
      const pass = await runOnce();
      if (Object.keys(pass.deleted).length > 0) log.info({ ...pass }, "uploads swept");
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "upload sweep failed; trying again next time");
    }
  };
  const timer = opts.intervalMs > 0 ? setInterval(() => void tick(), opts.intervalMs) : undefined;
  timer?.unref();
  if (timer) log.info({ intervalMs: opts.intervalMs, minAgeMs: opts.minAgeMs, orphanGraceMs: opts.orphanGraceMs }, "upload sweep on");
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
