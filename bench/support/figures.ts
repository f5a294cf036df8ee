import type { BenchStack } from "./bench-stack.js";
import type { CostFigures } from "./cost.js";
import { getHistory, listAllJobs } from "./gateway.js";
import { fmt, out, pct } from "./output.js";

/** One accepted submission, as the client saw it. */
export interface Submitted {
  jobId: string;
  /** Epoch ms on the client's clock: the services run on the same machine, so it compares with theirs. */
  submitStart: number;
  acceptMs: number;
}

export interface RunFigures {
  submitted: number;
  submittedPerS: number;
  completedPerS: number;
  acceptP50: number;
  acceptP99: number;
  e2eP50: number;
  e2eP99: number;
  e2eMax: number;
  serverP50: number;
  serverP99: number;
  verdicts: Record<string, number>;
  /** What the run cost per verification (set once the run's counters are read). */
  cost?: CostFigures;
}

/**
 * A run's figures from the jobs' own timestamps (createdAt, completedAt) rather than from
 * polling, so they do not depend on how often the client looks.
 */
export async function analyseRun(stack: BenchStack, subs: Submitted[], firstSubmit: number, lastSubmitEnd: number): Promise<RunFigures> {
  const jobs = await listAllJobs(stack.gatewayUrl);
  const e2e: number[] = [];
  const server: number[] = [];
  const verdicts: Record<string, number> = {};
  let lastCompletion = 0;
  for (const s of subs) {
    const j = jobs.get(s.jobId);
    const key = !j ? "missing" : j.status === "completed" ? `completed:${j.result?.status}` : j.status;
    verdicts[key] = (verdicts[key] ?? 0) + 1;
    if (j?.completedAt) {
      const done = Date.parse(j.completedAt);
      lastCompletion = Math.max(lastCompletion, done);
      e2e.push(done - s.submitStart);
      server.push(done - Date.parse(j.createdAt));
    }
  }
  const accept = subs.map((s) => s.acceptMs);
  return {
    submitted: subs.length,
    submittedPerS: subs.length / ((lastSubmitEnd - firstSubmit) / 1000),
    completedPerS: e2e.length / ((lastCompletion - firstSubmit) / 1000),
    acceptP50: pct(accept, 50),
    acceptP99: pct(accept, 99),
    e2eP50: pct(e2e, 50),
    e2eP99: pct(e2e, 99),
    e2eMax: pct(e2e, 100),
    serverP50: pct(server, 50),
    serverP99: pct(server, 99),
    verdicts,
  };
}

export function printRun(f: RunFigures, submitErrorsSoFar: number): void {
  out(`  submitted            ${f.submitted} jobs (${submitErrorsSoFar} submit errors so far)`);
  out(`  submitted/s          ${fmt(f.submittedPerS)}`);
  out(`  completed/s          ${fmt(f.completedPerS)}   (first submit → last completedAt)`);
  out(`  accept latency       p50 ${fmt(f.acceptP50)} ms   p99 ${fmt(f.acceptP99)} ms   (POST → 202)`);
  out(`  submit→completed     p50 ${fmt(f.e2eP50, 0)} ms   p99 ${fmt(f.e2eP99, 0)} ms   max ${fmt(f.e2eMax, 0)} ms`);
  out(`  created→completed    p50 ${fmt(f.serverP50, 0)} ms   p99 ${fmt(f.serverP99, 0)} ms   (server timestamps)`);
  out(`  verdicts             ${JSON.stringify(f.verdicts)}`);
}

/**
 * Where the time goes: the gaps between consecutive events of a job's history (the first
 * from the client's submit), over a sample of about `sample` jobs of the run.
 */
export async function printStageGaps(stack: BenchStack, subs: Submitted[], sample = 150): Promise<void> {
  const step = Math.max(1, Math.floor(subs.length / sample));
  const gaps = new Map<string, number[]>();
  for (let i = 0; i < subs.length; i += step) {
    const events = await getHistory(stack.gatewayUrl, subs[i]!.jobId);
    const ordered = [...events].sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
    let prev = subs[i]!.submitStart;
    let prevType = "client.submit";
    for (const e of ordered) {
      const k = `${prevType}→${e.type}`;
      if (!gaps.has(k)) gaps.set(k, []);
      gaps.get(k)!.push(Date.parse(e.occurredAt) - prev);
      prev = Date.parse(e.occurredAt);
      prevType = e.type;
    }
  }
  out(`  stage gaps (sample of ${Math.ceil(subs.length / step)} jobs):`);
  for (const [k, v] of gaps) out(`    ${k} p50 ${fmt(pct(v, 50), 0)} / p99 ${fmt(pct(v, 99), 0)} ms`);
}
