/**
 * End-to-end benchmark of the pipeline (gateway → hashing → manifest → chain-check → status).
 * Prints figures; it is not a test.
 *
 *   npx tsx bench/e2e.ts [--jobs N] [--concurrency C] [--rate R] [--duration S] [--large-mb M] [--contents K] [--cpu-prof DIR] [--scale-jobs J]
 *
 * Every run prints what one verification costs: CPU ms per process, NATS messages and bytes
 * (nats-server's /varz), PostgreSQL statements (pg_stat_statements), JSON-RPC requests
 * (chain-check's counter) and the host's steal. The fixed-rate run is made twice: with nobody
 * listening, then with a webhook subscriber and a callback per job. `--cpu-prof DIR` runs the
 * services under `node --cpu-prof` and summarises where each spent its CPU. `--large-mb 0` skips
 * the large file; `--scale-jobs 0` the data-scale step (1 000 000 jobs loaded into PostgreSQL).
 *
 * Starts the local stack `npm start` runs (nats-server, ephemeral embedded PostgreSQL, hardhat
 * chain with the registry, manifest server, the services as processes from their dist), on
 * free ports in a temp directory, with K contents registered on chain and their manifests on
 * the local IPFS route. Needs `npm run build` first (`npm run bench` does both).
 */
import { mkdir } from "node:fs/promises";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { startBenchStack, type BenchStack } from "./support/bench-stack.js";
import { closeCostReaders } from "./support/cost.js";
import type { RunFigures } from "./support/figures.js";
import { dataScaleRows, runDataScale, type DataScaleFigures } from "./support/data-scale.js";
import { runLargeFile, type LargeFigures } from "./support/large-file.js";
import { runFixedRate, runThroughput, submitErrors, warmUp } from "./support/load.js";
import { fmt, out } from "./support/output.js";
import { runBench } from "./support/run-bench.js";
import { findOrphans } from "./support/processes.js";
import { printProfiles } from "./support/profiles.js";
import { createServiceLog, type ServiceLog } from "./support/service-log.js";
import { startWebhookReceiver, subscribeToEndings, unsubscribe, waitForDeliveries } from "./support/webhook-receiver.js";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "64" },
    rate: { type: "string", default: "100" },
    duration: { type: "string", default: "20" },
    "large-mb": { type: "string", default: "1024" },
    contents: { type: "string", default: "200" },
    "cpu-prof": { type: "string" },
    "scale-jobs": { type: "string", default: "1000000" },
  },
});
const JOBS = Number(args.jobs);
const CONCURRENCY = Number(args.concurrency);
const RATE = Number(args.rate);
const DURATION_S = Number(args.duration);
const LARGE_MIB = Number(args["large-mb"]);
const CONTENTS = Number(args.contents);
const PROFILE_DIR = args["cpu-prof"] ? resolve(args["cpu-prof"]) : null;

interface Results {
  large: LargeFigures | null;
  throughput: RunFigures | null;
  fixedRate: RunFigures | null;
  /** The same fixed rate with a webhook subscriber and a callback per job. */
  fixedRateActive: RunFigures | null;
  scale?: DataScaleFigures;
}

const serviceLog = createServiceLog();
let stack: BenchStack | undefined;

async function main() {
  const started = Date.now();
  out(`veriflow e2e bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cpus`);
  const t0 = Date.now();
  if (PROFILE_DIR) await mkdir(PROFILE_DIR, { recursive: true });
  stack = await startBenchStack(CONTENTS, serviceLog.print, { nodeArgs: PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [] });
  out(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${CONTENTS} contents (1–256 KiB) registered on chain, manifests via ipfs://`);
  const results: Results = { large: null, throughput: null, fixedRate: null, fixedRateActive: null };
  try {
    // The large file first: its memory figures are about streaming, so they are taken on
    // processes not yet grown by thousands of small uploads (whose heap V8 keeps a while).
    if (LARGE_MIB > 0) results.large = await runLargeFile(stack, LARGE_MIB);
    await warmUp(stack);
    results.throughput = await runThroughput(stack, JOBS, CONCURRENCY);
    results.fixedRate = await runFixedRate(stack, RATE, DURATION_S, { label: "nobody listening" });
    results.fixedRateActive = await runWithSubscribers(stack);
    // Last: the runs above list every job they submitted, which must not include a million more.
    const scaleJobs = Number(args["scale-jobs"]);
    if (scaleJobs > 0) results.scale = await runDataScale({ databaseUrl: stack.databaseUrl, statusUrl: stack.statusUrl, jobs: scaleJobs });
  } finally {
    const pids = Object.fromEntries(Object.entries(stack.services).map(([n, [s]]) => [n, s!.child.pid]));
    const exited = Object.values(stack.services).flat().filter((s) => s.child.exitCode !== null || s.child.signalCode !== null);
    if (exited.length) out(`\n!! services that exited during the bench: ${exited.map((s) => `${s.name}(${s.child.exitCode ?? s.child.signalCode})`).join(", ")}`);
    out(`\nservice pids: ${JSON.stringify(pids)}`);
    await closeCostReaders();
    await stack.stop();
  }
  if (PROFILE_DIR) await printProfiles(PROFILE_DIR, new Map(Object.values(stack.services).flat().map((s) => [s.child.pid!, s.name])));
  printSummary(results, (Date.now() - started) / 1000, serviceLog);
  const orphans = await findOrphans(stack);
  out(`  orphans (this run's service pids, pgrep -af '${orphans.pattern}'): ${orphans.found || "none"}`);
}

/**
 * A webhook subscriber to every job's ending and a callback per job, at the same fixed rate:
 * what the observers cost when someone listens.
 */
async function runWithSubscribers(stack: BenchStack): Promise<RunFigures> {
  const receiver = await startWebhookReceiver();
  const subscription = await subscribeToEndings(stack.gatewayUrl, receiver.url);
  try {
    const f = await runFixedRate(stack, RATE, DURATION_S, { callbackUrl: receiver.url, label: "a webhook subscriber and a callback per job" });
    await waitForDeliveries(receiver, 2 * f.submitted);
    return f;
  } finally {
    await unsubscribe(stack.gatewayUrl, subscription);
    await receiver.stop();
  }
}

/** The figures against their targets (issue 9's table): PASS / MISS where there is a target. */
function printSummary({ large, throughput, fixedRate, fixedRateActive, scale }: Results, totalS: number, log: ServiceLog) {
  const rows: [string, string, string, boolean | null][] = [];
  if (fixedRate?.cost) {
    const c = fixedRate.cost.systemCpuMs;
    rows.push([`CPU ms/verification at ${RATE}/s`, `${fmt(c, 2)} ms`, "≤ 6 ms", c <= 6]);
  }
  if (fixedRateActive?.cost) rows.push([`  … with subscribers + callbacks`, `${fmt(fixedRateActive.cost.systemCpuMs, 2)} ms`, "-", null]);
  if (throughput) {
    rows.push(["sustained verifications/s", fmt(throughput.completedPerS), "≥ 200/s", throughput.completedPerS >= 200]);
    rows.push(["throughput accept p99", `${fmt(throughput.acceptP99)} ms`, "-", null]);
  }
  if (fixedRate) rows.push([`p99 submit→completed at ${RATE}/s`, `${fmt(fixedRate.e2eP99, 0)} ms`, "≤ 300 ms", fixedRate.e2eP99 <= 300]);
  if (fixedRateActive) rows.push([`  … with subscribers + callbacks`, `${fmt(fixedRateActive.e2eP99, 0)} ms`, "-", null]);
  const ethCalls = Math.max(...[throughput, fixedRate, fixedRateActive].map((r) => r?.cost?.ethCalls ?? NaN).filter((n) => !Number.isNaN(n)));
  if (Number.isFinite(ethCalls)) rows.push(["eth_calls/verification (≥ 100/s runs)", fmt(ethCalls, 3), "≤ 0.1", ethCalls <= 0.1]);
  else rows.push(["eth_calls/verification (≥ 100/s runs)", "n/a (no counter)", "≤ 0.1", false]);
  if (large) {
    rows.push([`${fmt(large.sizeMiB, 0)} MiB POST→completed / openssl`, `${fmt(large.e2eS, 2)} s / ${fmt(large.opensslS, 2)} s = ${fmt(large.e2eVsOpenssl, 1)}×`, "≤ 3×", large.e2eVsOpenssl <= 3]);
    for (const n of ["gateway", "hashing"]) {
      const p = Math.max(large.peak[n]!.sampled, Number.isNaN(large.peak[n]!.hwm) ? 0 : large.peak[n]!.hwm);
      // The target is in MB (10^6 bytes); RSS is read in MiB.
      rows.push([`${n} peak RSS on ${fmt(large.sizeMiB, 0)} MiB`, `${fmt(p)} MiB`, "< 200 MB", p * 1.048576 < 200]);
    }
    // Hashed as it was stored (upload-follower.ts), the stage has only a tail left after the request: its MB/s means nothing then.
    if (large.hashS < 1) rows.push(["  hashing after the request", `${fmt(large.hashS, 2)} s (read while stored)`, "-", null]);
    else rows.push(["  hashing stage MB/s", `${fmt(large.hashMBs)} (openssl ${fmt(large.opensslMBs)})`, "-", null]);
    rows.push(["  large upload MB/s", fmt(large.uploadMBs), "-", null]);
  }
  for (const [name, run] of [[`at ${RATE}/s`, fixedRate], ["with subscribers", fixedRateActive]] as const) {
    if (run?.cost) rows.push([`NATS messages/verification ${name}`, `${fmt(run.cost.natsMsgs, 1)} (${fmt(run.cost.natsKiB, 0)} KiB)`, "-", null]);
  }
  if (fixedRate?.cost) {
    rows.push([`PostgreSQL statements/verification`, fmt(fixedRate.cost.pgStatements, 2), "-", null]);
    rows.push([`host CPU steal during the ${RATE}/s run`, `${fmt(fixedRate.cost.stealPct, 1)}%`, "-", null]);
  }
  if (scale) rows.push(...dataScaleRows(scale));
  const mark = (ok: boolean | null) => (ok === null ? "n/a " : ok ? "PASS" : "MISS");
  out(`\n== summary (${totalS.toFixed(0)} s total)`);
  out(`  ${"figure".padEnd(40)} ${"value".padEnd(34)} ${"target".padEnd(10)} result`);
  for (const [name, value, target, ok] of rows) out(`  ${name.padEnd(40)} ${value.padEnd(34)} ${target.padEnd(10)} ${mark(ok)}`);
  out(`  submit errors: ${submitErrors.count}${submitErrors.samples.length ? ` e.g. ${submitErrors.samples.join(" | ")}` : ""}`);
  out(`  service warn/error log lines: ${JSON.stringify(Object.fromEntries(log.counts))}`);
  for (const l of log.samples.slice(0, 15)) out(`    ${l}`);
}

runBench(main, { stack: () => stack, serviceLog });
