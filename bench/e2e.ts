/**
 * End-to-end benchmark of the pipeline (gateway → hashing → manifest → chain-check → status).
 * Prints figures; it is not a test.
 *
 *   npx tsx bench/e2e.ts [--jobs N] [--concurrency C] [--rate R] [--duration S] [--large-mb M] [--contents K]
 *
 * Starts the local stack `npm start` runs (nats-server, ephemeral embedded PostgreSQL, hardhat
 * chain with the registry, manifest server, the services as processes from their dist), on
 * free ports in a temp directory, with K contents registered on chain and their manifests on
 * the local IPFS route. Needs `npm run build` first (`npm run bench` does both).
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { startBenchStack, type BenchStack } from "./support/bench-stack.js";
import type { RunFigures } from "./support/figures.js";
import { runLargeFile, type LargeFigures } from "./support/large-file.js";
import { runFixedRate, runThroughput, submitErrors, warmUp } from "./support/load.js";
import { fmt, out } from "./support/output.js";
import { findOrphans } from "./support/processes.js";
import { createServiceLog, type ServiceLog } from "./support/service-log.js";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "64" },
    rate: { type: "string", default: "100" },
    duration: { type: "string", default: "20" },
    "large-mb": { type: "string", default: "1024" },
    contents: { type: "string", default: "200" },
  },
});
const JOBS = Number(args.jobs);
const CONCURRENCY = Number(args.concurrency);
const RATE = Number(args.rate);
const DURATION_S = Number(args.duration);
const LARGE_MIB = Number(args["large-mb"]);
const CONTENTS = Number(args.contents);

interface Results {
  large: LargeFigures | null;
  throughput: RunFigures | null;
  fixedRate: RunFigures | null;
}

const serviceLog = createServiceLog();
let stack: BenchStack | undefined;

async function main() {
  const started = Date.now();
  out(`veriflow e2e bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cpus`);
  const t0 = Date.now();
  stack = await startBenchStack(CONTENTS, serviceLog.print);
  out(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${CONTENTS} contents (1–256 KiB) registered on chain, manifests via ipfs://`);
  const results: Results = { large: null, throughput: null, fixedRate: null };
  try {
    // The large file first: its memory figures are about streaming, so they are taken on
    // processes not yet grown by thousands of small uploads (whose heap V8 keeps a while).
    results.large = await runLargeFile(stack, LARGE_MIB);
    await warmUp(stack);
    results.throughput = await runThroughput(stack, JOBS, CONCURRENCY);
    results.fixedRate = await runFixedRate(stack, RATE, DURATION_S);
  } finally {
    const pids = Object.fromEntries(Object.entries(stack.services).map(([n, s]) => [n, s.child.pid]));
    const exited = Object.values(stack.services).filter((s) => s.child.exitCode !== null || s.child.signalCode !== null);
    if (exited.length) out(`\n!! services that exited during the bench: ${exited.map((s) => `${s.name}(${s.child.exitCode ?? s.child.signalCode})`).join(", ")}`);
    out(`\nservice pids: ${JSON.stringify(pids)}`);
    await stack.stop();
  }
  printSummary(results, (Date.now() - started) / 1000, serviceLog);
  const orphans = await findOrphans(stack);
  out(`  orphans (this run's service pids, pgrep -af '${orphans.pattern}'): ${orphans.found || "none"}`);
}

/** The figures against their targets: PASS / MISS where there is a target. */
function printSummary({ large, throughput, fixedRate }: Results, totalS: number, log: ServiceLog) {
  const rows: [string, string, string, boolean | null][] = [];
  if (throughput) {
    rows.push(["sustained verifications/s", fmt(throughput.completedPerS), "≥ 150/s", throughput.completedPerS >= 150]);
    rows.push(["throughput accept p99", `${fmt(throughput.acceptP99)} ms`, "-", null]);
    rows.push(["throughput submit→completed p99", `${fmt(throughput.e2eP99, 0)} ms`, "-", null]);
  }
  if (fixedRate) {
    rows.push([`p50 submit→completed at ${RATE}/s`, `${fmt(fixedRate.e2eP50, 0)} ms`, "-", null]);
    rows.push([`p99 submit→completed at ${RATE}/s`, `${fmt(fixedRate.e2eP99, 0)} ms`, "≤ 1000 ms", fixedRate.e2eP99 <= 1000]);
  }
  if (large) {
    for (const n of ["gateway", "hashing"]) {
      const p = Math.max(large.peak[n]!.sampled, Number.isNaN(large.peak[n]!.hwm) ? 0 : large.peak[n]!.hwm);
      // The target is in MB (10^6 bytes); RSS is read in MiB.
      rows.push([`${n} peak RSS on ${fmt(large.sizeMiB, 0)} MiB`, `${fmt(p)} MiB`, "< 200 MB", p * 1.048576 < 200]);
    }
    // Hashed as it was stored (upload-follower.ts), the stage has only a tail left after the request: its MB/s means nothing then.
    if (large.hashS < 1) rows.push(["hashing after the request", `${fmt(large.hashS, 2)} s (read while stored)`, "-", null]);
    else rows.push(["hashing MB/s vs openssl", `${fmt(large.hashMBs)} / ${fmt(large.opensslMBs)} (${fmt(large.ratio * 100)}%)`, "≥ 80%", large.ratio >= 0.8]);
    rows.push(["large upload MB/s", fmt(large.uploadMBs), "-", null]);
    rows.push(["large POST → completed vs openssl", `${fmt(large.e2eS, 2)} s / ${fmt(large.opensslS, 2)} s (${fmt(large.e2eVsOpenssl, 2)}×)`, "≤ 3×", large.e2eVsOpenssl <= 3]);
  }
  const mark = (ok: boolean | null) => (ok === null ? "n/a " : ok ? "PASS" : "MISS");
  out(`\n== summary (${totalS.toFixed(0)} s total)`);
  out(`  ${"figure".padEnd(36)} ${"value".padEnd(28)} ${"target".padEnd(11)} result`);
  for (const [name, value, target, ok] of rows) out(`  ${name.padEnd(36)} ${value.padEnd(28)} ${target.padEnd(11)} ${mark(ok)}`);
  out(`  submit errors: ${submitErrors.count}${submitErrors.samples.length ? ` e.g. ${submitErrors.samples.join(" | ")}` : ""}`);
  out(`  service warn/error log lines: ${JSON.stringify(Object.fromEntries(log.counts))}`);
  for (const l of log.samples.slice(0, 15)) out(`    ${l}`);
}

process.on("SIGINT", () => {
  void (stack?.stop() ?? Promise.resolve()).then(() => process.exit(130));
});

main().then(
  () => process.exit(0),
  async (err) => {
    out(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    // A service that died during start-up says why in its log.
    for (const l of serviceLog.samples) out(`  ${l}`);
    await stack?.stop();
    process.exit(1);
  },
);
