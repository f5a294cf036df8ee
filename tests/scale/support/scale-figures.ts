import { pct } from "../../../bench/support/output.js";
import type { TerminalEvent } from "../../chaos/support/audit.js";
import type { Submission } from "../../chaos/support/load.js";

/** What the 503s were: answers (first tries and retries alike) and the submissions that met one. */
export interface Unavailable {
  /** Submissions with at least one 503 answer. */
  submissions: number;
  /** 503 answers in all, and by error code. */
  answers: number;
  byCode: Map<string, number>;
  /** 503 answers between `from` and `to` (the leaderless window and its tail). */
  inWindow: number;
  /** Every retried answer (503, 429, 507, a key in progress, none), and submissions still refused after their retries. */
  retries: number;
  /** Submissions refused or unanswered after their retries. */
  refusedAfterRetries: number;
}

export function countUnavailable(subs: readonly Submission[], window: { from: number; to: number }): Unavailable {
  const byCode = new Map<string, number>();
  let submissions = 0;
  let inWindow = 0;
  let retries = 0;
  let refusedAfterRetries = 0;
  for (const s of subs) {
    const answers = (s.retries ?? []).map((r) => ({ at: r.at, status: r.status, code: r.code }));
    retries += answers.length;
    if (s.outcome.kind === "unanswered" && s.retries?.length) refusedAfterRetries++;
    if (s.outcome.kind === "refused") {
      answers.push({ at: s.answeredAt ?? 0, status: s.outcome.status, code: s.outcome.code });
      if (s.retries?.length) refusedAfterRetries++;
    }
    const unavailable = answers.filter((a) => a.status === 503);
    if (unavailable.length) submissions++;
    for (const a of unavailable) {
      byCode.set(a.code, (byCode.get(a.code) ?? 0) + 1);
      if (a.at >= window.from && a.at <= window.to) inWindow++;
    }
  }
  return { submissions, answers: [...byCode.values()].reduce((a, b) => a + b, 0), byCode, inWindow, retries, refusedAfterRetries };
}

export interface Distribution {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

const distribution = (ms: number[]): Distribution => ({ count: ms.length, p50: pct(ms, 50), p95: pct(ms, 95), max: pct(ms, 100) });

/** Each accepted job's first terminal event's store time (ms since the epoch), by job id. */
function endings(terminal: readonly TerminalEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of terminal) if (t.storedAt !== undefined && !out.has(t.jobId)) out.set(t.jobId, t.storedAt);
  return out;
}

/**
 * Work in flight when replicas were killed at `killAt`: accepted jobs sent before the kill that
 * ended after it; how long after the kill they ended (the killed replicas' messages among them
 * come back only when redelivered, so the slowest is the pickup time). And submit→end of jobs
 * sent within `aroundMs` either side of the kill.
 */
export function pickupAfterKill(subs: readonly Submission[], terminal: readonly TerminalEvent[], killAt: number, aroundMs = 2000): { pickup: Distribution; around: Distribution } {
  const ended = endings(terminal);
  const pickup: number[] = [];
  const around: number[] = [];
  for (const s of subs) {
    if (s.outcome.kind !== "accepted" || s.sentAt === undefined) continue;
    const at = ended.get(s.outcome.jobId);
    if (at === undefined) continue;
    if (s.sentAt < killAt && at > killAt) pickup.push(at - killAt);
    if (Math.abs(s.sentAt - killAt) <= aroundMs) around.push(at - s.sentAt);
  }
  return { pickup: distribution(pickup), around: distribution(around) };
}

/** Accepted jobs whose case has a verdict due (a valid submission) that ended failed instead. */
export function validJobsFailed(subs: readonly Submission[], terminal: readonly TerminalEvent[]): number {
  const failed = new Set(terminal.filter((t) => t.type === "verification.failed").map((t) => t.jobId));
  return subs.filter((s) => s.outcome.kind === "accepted" && s.case.expect.outcome === "completed" && failed.has(s.outcome.jobId)).length;
}
