import { isTerminal, priorityOf, runOf, statusRank, tenantOf, type AnyJobEnvelope, type JobPriority, type JobRequest, type JobStatus, type JobType, type Stage } from "@veriflow/events";

/**
 * How events move a job: pure logic, no I/O. store.ts applies the same rules in SQL
 * against the stored row, so a batch folded here and a row folded there agree.
 *
 * - Monotonic within a run: status only climbs queued < processing < completed|failed
 *   (statusRank, @veriflow/events), progress only grows, and the run's first terminal event
 *   is final (a later one changes neither status, progress, result, error nor completedAt).
 * - Runs: a retry starts the job again as run n + 1 (the envelope's `run`). An event of a
 *   later run replaces the state (status, progress, result, error, completedAt) of an
 *   earlier one, so a failed job goes back to queued or processing; an event of an earlier
 *   run arriving late changes no state. The history keeps every run's events.
 * - Any event may come first: facts (type, content hash, request fields) fill gaps
 *   whatever their order; createdAt is the earliest event's time.
 * - Idempotence is the events table's job: only newly recorded events reach here.
 */

export interface JobFailure {
  stage: Stage;
  code: string;
  message: string;
  attempts: number;
}

/**
 * An earlier run's verdict, kept when a later run (a re-verification) replaces `result`:
 * the block its chain read was pinned to and when it was reached.
 */
export interface VerdictRecord {
  run: number;
  status: string | null;
  reasons: string[];
  blockNumber: number | null;
  /** ISO 8601, as the projection stored it. */
  completedAt: string | null;
  result: unknown;
}

/** What one event (or a fold of several) establishes about one job. */
export interface JobPatch {
  id: string;
  /** The tenant the job belongs to: every event of a job names the same one (the first seen is kept). */
  tenant: string;
  /** The run the state belongs to: 1, or n + 1 after the nth retry. */
  run: number;
  type: JobType | null;
  status: JobStatus;
  progress: number;
  contentHash: string | null;
  manifestUri: string | null;
  registryAddress: string | null;
  rpcUrl: string | null;
  /** The class the request settled (null until an event carrying the request is seen). */
  priority: JobPriority | null;
  fileName: string | null;
  fileSize: number | null;
  /** The batch the job was submitted in (its request's batchId); null for a single submission. */
  batchId: string | null;
  /** The verify result or proof document; null until completed. */
  result: unknown;
  /** The verdicts of earlier runs, replaced by a later run's (store.ts keeps the same rule in SQL). */
  resultHistory: VerdictRecord[];
  error: JobFailure | null;
  /** Sum over stage events of (attempts - 1), over every run. */
  retryCount: number;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  lastEventAt: Date;
}

/**
 * retry_count is an integer column. The event schema admits any positive `attempts` (the
 * loops send at most their max attempts, 100 at the most), so the count saturates here
 * instead: a count past the column would refuse every later event of the job, its ending
 * too, and leave it processing for ever.
 */
export const MAX_RETRY_COUNT = 2_147_483_647;
const retriesOf = (attempts: number) => Math.min(attempts - 1, MAX_RETRY_COUNT);

/** Progress steps of DOMAIN.md reached by each event. */
export const PROGRESS = {
  queued: 0,
  hashed: 10,
  /** manifest fetched (30) and signature checked (50) arrive in one event. */
  manifestChecked: 50,
  completed: 100,
} as const;

function base(event: AnyJobEnvelope, status: JobStatus, progress: number): JobPatch {
  const at = new Date(event.occurredAt);
  return {
    id: event.data.jobId,
    tenant: tenantOf(event),
    run: runOf(event),
    type: null,
    status,
    progress,
    contentHash: null,
    manifestUri: null,
    registryAddress: null,
    rpcUrl: null,
    priority: null,
    fileName: null,
    fileSize: null,
    batchId: null,
    result: null,
    resultHistory: [],
    error: null,
    retryCount: 0,
    createdAt: at,
    startedAt: null,
    completedAt: null,
    lastEventAt: at,
  };
}

function fromRequest(request: JobRequest) {
  return {
    type: request.jobType,
    manifestUri: request.manifestUri,
    registryAddress: request.registryAddress,
    rpcUrl: request.rpcUrl,
    priority: priorityOf(request),
    batchId: request.batchId ?? null,
  };
}

function parseDate(value: string, fallback: Date): Date {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? fallback : d;
}

/** The patch one event applies to its job. */
export function jobPatchFor(event: AnyJobEnvelope): JobPatch {
  switch (event.type) {
    case "verification.requested": {
      const d = event.data;
      return {
        ...base(event, "queued", PROGRESS.queued),
        ...fromRequest(d.request),
        // A watch's request gives its hash and names no upload.
        contentHash: d.contentHash?.toLowerCase() ?? null,
        fileName: d.upload?.fileName ?? null,
        fileSize: d.upload?.size ?? null,
      };
    }
    case "content.hashed": {
      const p = base(event, "processing", PROGRESS.hashed);
      const d = event.data;
      return {
        ...p,
        ...fromRequest(d.request),
        contentHash: d.contentHash.toLowerCase(),
        // A given hash read no bytes: the size is not known.
        fileSize: d.hashGiven ? null : d.size,
        startedAt: parseDate(d.startedAt, p.createdAt),
        retryCount: retriesOf(d.attempts),
      };
    }
    case "manifest.checked": {
      const d = event.data;
      return {
        ...base(event, "processing", PROGRESS.manifestChecked),
        ...fromRequest(d.request),
        contentHash: d.contentHash.toLowerCase(),
        retryCount: retriesOf(d.attempts),
      };
    }
    case "verification.completed": {
      const p = base(event, "completed", PROGRESS.completed);
      const d = event.data;
      return {
        ...p,
        type: d.jobType,
        contentHash: d.contentHash.toLowerCase(),
        result: d.result,
        retryCount: retriesOf(d.attempts),
        completedAt: p.lastEventAt,
      };
    }
    case "verification.changed":
      // A note about a run already completed (registry-watch compares its verdict with the run
      // before): recorded in the history, it moves nothing (processing at 0 never outranks it).
      return base(event, "processing", PROGRESS.queued);
    case "watch.stopped":
      // Recorded in the history (and in the watches table, watch-store.ts); moves nothing: queued
      // at 0 never outranks the job's state, whatever it is.
      return base(event, "queued", PROGRESS.queued);
    case "verification.failed": {
      // Progress stays where the job got to: the failed patch itself claims none.
      const p = base(event, "failed", PROGRESS.queued);
      const d = event.data;
      return {
        ...p,
        type: d.jobType,
        error: { stage: d.stage, code: d.code, message: d.message, attempts: d.attempts },
        retryCount: retriesOf(d.attempts),
        completedAt: p.lastEventAt,
      };
    }
  }
}

const minDate = (a: Date | null, b: Date | null) => (a === null ? b : b === null ? a : a <= b ? a : b);
const maxDate = (a: Date, b: Date) => (a >= b ? a : b);

/**
 * `a` then `b`, for the same job: what the job looks like after both. Associative, so a
 * batch can be folded before it meets the stored row (which store.ts merges in SQL).
 */
export function mergePatches(a: JobPatch, b: JobPatch): JobPatch {
  const facts = {
    id: a.id,
    tenant: a.tenant,
    type: a.type ?? b.type,
    contentHash: a.contentHash ?? b.contentHash,
    manifestUri: a.manifestUri ?? b.manifestUri,
    registryAddress: a.registryAddress ?? b.registryAddress,
    rpcUrl: a.rpcUrl ?? b.rpcUrl,
    priority: a.priority ?? b.priority,
    fileName: a.fileName ?? b.fileName,
    fileSize: a.fileSize ?? b.fileSize,
    batchId: a.batchId ?? b.batchId,
    retryCount: Math.min(a.retryCount + b.retryCount, MAX_RETRY_COUNT),
    createdAt: minDate(a.createdAt, b.createdAt)!,
    startedAt: minDate(a.startedAt, b.startedAt),
    lastEventAt: maxDate(a.lastEventAt, b.lastEventAt),
  };
  if (a.run !== b.run) {
    // A later run starts the job over: its state wins, in whichever order the events came;
    // the earlier run's verdict, if it reached one, goes to the history.
    const [earlier, latest] = a.run > b.run ? [b, a] : [a, b];
    const { run, status, progress, result, error, completedAt } = latest;
    const resultHistory = [...a.resultHistory, ...b.resultHistory, ...(earlier.result ? [verdictRecordOf(earlier)] : [])].sort((x, y) => x.run - y.run);
    return { ...facts, run, status, progress, result, resultHistory, error, completedAt };
  }
  const settled = isTerminal(a.status);
  // The run's first terminal patch wins and brings its own outcome.
  const outcome = settled ? a : isTerminal(b.status) ? b : null;
  return {
    ...facts,
    run: a.run,
    status: statusRank(b.status) > statusRank(a.status) ? b.status : a.status,
    progress: settled ? a.progress : Math.max(a.progress, b.progress),
    result: outcome ? outcome.result : null,
    resultHistory: [...a.resultHistory, ...b.resultHistory],
    error: outcome ? outcome.error : null,
    completedAt: outcome ? outcome.completedAt : null,
  };
}

/** A run's verdict as the history keeps it. */
export function verdictRecordOf(p: Pick<JobPatch, "run" | "result" | "completedAt">): VerdictRecord {
  const r = p.result as { status?: string; reasons?: string[]; onchain?: { blockNumber?: number | null } };
  return {
    run: p.run,
    status: r.status ?? null,
    reasons: r.reasons ?? [],
    blockNumber: r.onchain?.blockNumber ?? null,
    completedAt: p.completedAt?.toISOString() ?? null,
    result: p.result,
  };
}

/** Folds events, in order, into one patch per job. */
export function foldEvents(events: readonly AnyJobEnvelope[]): Map<string, JobPatch> {
  const jobs = new Map<string, JobPatch>();
  for (const event of events) {
    const patch = jobPatchFor(event);
    const prior = jobs.get(patch.id);
    jobs.set(patch.id, prior ? mergePatches(prior, patch) : patch);
  }
  return jobs;
}
