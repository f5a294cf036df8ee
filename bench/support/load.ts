import { setTimeout as sleep } from "node:timers/promises";
import { JOBS_PATH } from "@veriflow/events";
import type { BenchStack } from "./bench-stack.js";
import type { Content } from "./contents.js";
import { analyseRun, printRun, printStageGaps, type RunFigures, type Submitted } from "./figures.js";
import { getStats } from "./gateway.js";
import { fmt, out } from "./output.js";
import { costBetween, printCost, takeCost, type CostSnapshot } from "./cost.js";
import { printCpu } from "./processes.js";

/** Submissions that did not get a 202, over the whole bench: a count and the first few errors. */
export const submitErrors = { count: 0, samples: [] as string[] };

/** POSTs one content for verification; null (and counted) when it is not accepted. */
export async function submitOne(stack: BenchStack, c: Content, callbackUrl?: string): Promise<Submitted | null> {
  const form = new FormData();
  form.append("file", new Blob([c.bytes]), "bench.bin");
  form.append("registryAddress", stack.registry);
  form.append("manifestURI", c.manifestUri);
  // The bench cycles a few hundred contents: without fresh most jobs would be answered from
  // their content's known verdict, and the figures would no longer be the whole pipeline's.
  form.append("fresh", "true");
  if (callbackUrl) form.append("callbackUrl", callbackUrl);
  const submitStart = Date.now();
  const t = performance.now();
  try {
    const res = await fetch(`${stack.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: form });
    const body = (await res.json()) as { jobId?: string };
    const acceptMs = performance.now() - t;
    if (res.status !== 202 || !body.jobId) throw new Error(`${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    return { jobId: body.jobId, submitStart, acceptMs };
  } catch (err) {
    submitErrors.count++;
    if (submitErrors.samples.length < 5) submitErrors.samples.push(String(err));
    return null;
  }
}

/** Waits until `target` jobs are completed+failed in total (or nothing moves for `stallMs`). */
export async function waitDone(stack: BenchStack, target: number, stallMs = 30_000): Promise<boolean> {
  let last = -1;
  let lastMove = Date.now();
  for (;;) {
    const s = await getStats(stack.gatewayUrl);
    const done = s.completed + s.failed;
    if (done >= target) return true;
    if (done !== last) {
      last = done;
      lastMove = Date.now();
    } else if (Date.now() - lastMove > stallMs) {
      out(`  !! stalled at ${done}/${target} done (waiting=${s.waiting} active=${s.active})`);
      return false;
    }
    await sleep(250);
  }
}

/** Up to 20 verifications before measuring: JIT, connections, caches. */
export async function warmUp(stack: BenchStack): Promise<void> {
  const before = await getStats(stack.gatewayUrl);
  const batch = stack.contents.slice(0, 20);
  await Promise.all(batch.map((c) => submitOne(stack, c)));
  await waitDone(stack, before.completed + before.failed + batch.length, 20_000);
}

/** Closed loop: `concurrency` clients each submit their next job as soon as the last is accepted. */
export async function runThroughput(stack: BenchStack, jobs: number, concurrency: number): Promise<RunFigures> {
  out(`\n== throughput: ${jobs} jobs, closed loop, concurrency ${concurrency}`);
  const base = await getStats(stack.gatewayUrl);
  const cost0 = await takeCost(stack);
  const subs: Submitted[] = [];
  let next = 0;
  const firstSubmit = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= jobs) return;
        const s = await submitOne(stack, stack.contents[i % stack.contents.length]!);
        if (s) subs.push(s);
      }
    }),
  );
  return finishRun(stack, base.completed + base.failed, subs, firstSubmit, cost0);
}

/**
 * Open loop at a fixed rate: submissions start on schedule whether or not earlier ones were
 * answered, so a slow pipeline shows as latency instead of slowing the client down.
 */
export async function runFixedRate(stack: BenchStack, rate: number, durationS: number, opts: { callbackUrl?: string; label?: string } = {}): Promise<RunFigures> {
  const total = Math.round(rate * durationS);
  out(`\n== latency at fixed rate${opts.label ? `, ${opts.label}` : ""}: ${rate}/s open loop for ${durationS} s (${total} jobs)`);
  const base = await getStats(stack.gatewayUrl);
  const cost0 = await takeCost(stack);
  const pending: Promise<Submitted | null>[] = [];
  const start = Date.now();
  let maxLagMs = 0;
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - Date.now();
    if (wait > 0) await sleep(wait);
    else maxLagMs = Math.max(maxLagMs, -wait);
    pending.push(submitOne(stack, stack.contents[i % stack.contents.length]!, opts.callbackUrl));
  }
  const subs = (await Promise.all(pending)).filter((s): s is Submitted => s !== null);
  const f = await finishRun(stack, base.completed + base.failed, subs, start, cost0);
  out(`  schedule lag         max ${fmt(maxLagMs, 0)} ms (client falling behind its schedule)`);
  return f;
}

/** After the last submission: wait for the verdicts, then print the run's figures, CPU and stage gaps. */
async function finishRun(
  stack: BenchStack,
  doneBefore: number,
  subs: Submitted[],
  start: number,
  cost0: CostSnapshot,
): Promise<RunFigures> {
  const lastSubmitEnd = Date.now();
  await waitDone(stack, doneBefore + subs.length, 60_000);
  const cost1 = await takeCost(stack);
  const wallS = (Date.now() - start) / 1000;
  const f = await analyseRun(stack, subs, start, lastSubmitEnd);
  printRun(f, submitErrors.count);
  printCpu(cost0.cpu, cost1.cpu, wallS);
  // Per verification that ended in the run (completed or failed): what the system did for it.
  f.cost = costBetween(stack, cost0, cost1, ended(f.verdicts));
  printCost(f.cost);
  await printStageGaps(stack, subs);
  return f;
}

/** Jobs of a run that ended: completed with any verdict, or failed. */
function ended(verdicts: Record<string, number>): number {
  return Object.entries(verdicts)
    .filter(([k]) => k.startsWith("completed") || k === "failed")
    .reduce((sum, [, n]) => sum + n, 0);
}
