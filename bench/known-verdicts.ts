/**
 * What answering from a known verdict saves: sequential single verifications of contents
 * already decided, submit → verdict (REST `?wait=`), as full runs (`fresh=true`) and as answers
 * from the known verdicts, interleaved so both meet the same machine. Prints figures; not a test.
 *
 *   npx tsx bench/known-verdicts.ts [--samples N] [--contents K]
 *
 * Starts the local stack `npm start` runs (see bench/e2e.ts); needs `npm run build` first.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { JOBS_PATH } from "@veriflow/events";
import { startBenchStack, type BenchStack } from "./support/bench-stack.js";
import type { Content } from "./support/contents.js";
import { fmt, out, pct } from "./support/output.js";
import { runBench } from "./support/run-bench.js";
import { createServiceLog } from "./support/service-log.js";

const { values: args } = parseArgs({ options: { samples: { type: "string", default: "200" }, contents: { type: "string", default: "20" } } });
const SAMPLES = Number(args.samples);

/** One verification, submit → verdict; its time and whether it was answered from a known verdict. */
async function timeOne(stack: BenchStack, c: Content, fresh: boolean): Promise<{ ms: number; reused: boolean }> {
  const form = new FormData();
  form.append("registryAddress", stack.registry);
  form.append("manifestURI", c.manifestUri);
  if (fresh) form.append("fresh", "true");
  form.append("file", new Blob([c.bytes]), "bench.bin");
  const t = performance.now();
  const res = await fetch(`${stack.gatewayUrl}${JOBS_PATH}/verify?wait=60`, { method: "POST", body: form });
  const body = (await res.json()) as { result?: { status?: string; reusedFrom?: string } };
  const ms = performance.now() - t;
  if (res.status !== 200 || body.result?.status !== "OK") throw new Error(`${res.status} ${JSON.stringify(body).slice(0, 200)}`);
  return { ms, reused: body.result.reusedFrom !== undefined };
}

const line = (label: string, ms: number[]) => out(`  ${label.padEnd(36)} n=${String(ms.length).padStart(3)}  p50 ${fmt(pct(ms, 50), 1).padStart(6)} ms  p95 ${fmt(pct(ms, 95), 1).padStart(6)} ms`);

let stack: BenchStack | undefined;
const serviceLog = createServiceLog();

runBench(
  async () => {
    stack = await startBenchStack(Number(args.contents), serviceLog.print);
    const s = stack;
    // Each content decided once (its known verdict), then a moment for registry-watch to record them.
    for (const c of s.contents) await timeOne(s, c, true);
    await sleep(2000);
    const full: number[] = [];
    const known: number[] = [];
    let reused = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const c = s.contents[i % s.contents.length]!;
      full.push((await timeOne(s, c, true)).ms);
      const k = await timeOne(s, c, false);
      known.push(k.ms);
      if (k.reused) reused++;
    }
    out(`single verification of an already decided content, submit → verdict (REST, ?wait=60), ${s.contents.length} contents:`);
    line("full run (fresh=true)", full);
    line("answered from the known verdict", known);
    out(`  answered from a known verdict: ${reused} of ${known.length}`);
    await s.stop();
  },
  { stack: () => stack, serviceLog },
);
