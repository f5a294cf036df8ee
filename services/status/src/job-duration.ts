import { isTerminalType, runOf, type AnyJobEnvelope } from "@veriflow/events";
import type { TransactionSql } from "@veriflow/pg";
import { jobSeconds } from "./metrics.js";

/** A job run the projection saw end: what `veriflow_job_duration_seconds` observes once it is committed. */
export interface EndedJobRun {
  type: string;
  outcome: "completed" | "failed";
  seconds: number;
}

/** When a job run started, by `jobRunKey`: run 1 at the job's created_at, a retry at its run's first event. */
export type RunStarts = ReadonlyMap<string, Date>;

export const jobRunKey = (jobId: string, run: number) => `${jobId}\u0000${run}`;

/**
 * The runs `fresh` (events recorded for the first time) end: one per terminal event, which is
 * the run's first (terminal events of a run share one id, so a redelivered or second one is
 * never fresh). Duration: from the run's start to the terminal event's occurredAt.
 */
export function endedJobRuns(fresh: readonly AnyJobEnvelope[], types: ReadonlyMap<string, string | null>, starts: RunStarts): EndedJobRun[] {
  const ended: EndedJobRun[] = [];
  for (const e of fresh) {
    if (!isTerminalType(e.type)) continue;
    const start = starts.get(jobRunKey(e.data.jobId, runOf(e)));
    const at = Date.parse(e.occurredAt);
    if (!start || Number.isNaN(at)) continue;
    ended.push({
      type: types.get(e.data.jobId) ?? "unknown",
      outcome: e.type === "verification.completed" ? "completed" : "failed",
      seconds: Math.max(0, at - start.getTime()) / 1000,
    });
  }
  return ended;
}

/**
 * Where each ending run of `fresh` started: run 1 at the job's created_at (the upsert returns
 * it, no query), a retry's run at its first event (one indexed query, only when a retry ends).
 */
export async function runStartsOf(tx: TransactionSql, fresh: readonly AnyJobEnvelope[], jobs: readonly { id: string; createdAt: Date }[]): Promise<Map<string, Date>> {
  const starts = new Map(jobs.map((j) => [jobRunKey(j.id, 1), j.createdAt]));
  const retried = fresh.filter((e) => isTerminalType(e.type) && runOf(e) > 1);
  if (retried.length === 0) return starts;
  const rows = await tx<{ jobId: string; run: number; startedAt: Date }[]>`
    select job_id, run, min(occurred_at) as started_at from verification_job_events
    where job_id = any(${retried.map((e) => e.data.jobId)}) and run > 1
    group by job_id, run`;
  for (const r of rows) starts.set(jobRunKey(r.jobId, r.run), r.startedAt);
  return starts;
}

/** Called once the batch is committed: a rolled-back batch observes nothing, its retry does. */
export function observeJobDurations(ended: readonly EndedJobRun[]): void {
  for (const j of ended) jobSeconds.observe({ type: j.type, outcome: j.outcome }, j.seconds);
}
