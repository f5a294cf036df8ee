/**
 * What a second replica of a CPU-bound stage buys (issue 11): hashing with 1–4 MiB uploads,
 * once with one replica and once with two, in the same run on the same stack. Prints figures;
 * it is not a test.
 *
 *   npx tsx bench/replicas.ts [--jobs N] [--min-mib A] [--max-mib B]
 *
 * Each step stops every hashing replica, queues N jobs through the gateway (their uploads wait
 * in the bucket), then starts 1 or 2 replicas and times the stage draining that queue: the
 * count of `content.hashed` in the stream, from the first new one to the N-th. The gateway is
 * idle while it is timed, so the figure is the stage's (with nats-server serving the chunks,
 * and the stages after it verifying what it hashed). Needs `npm run build` first
 * (`npm run bench:replicas` does both).
 */
import { readFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { natsUserEnv, type NatsPasswords } from "../deploy/local/src/nats-users.js";
import { stopService } from "../deploy/local/src/service-processes.js";
import { jobsWith } from "../tests/chaos/support/audit.js";
import { startBenchStack, type BenchStack } from "./support/bench-stack.js";
import { submitErrors, submitOne } from "./support/load.js";
import { fmt, out } from "./support/output.js";
import { runBench } from "./support/run-bench.js";
import { printCpu, takeCpuSnapshot } from "./support/processes.js";
import { createServiceLog } from "./support/service-log.js";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "120" },
    "min-mib": { type: "string", default: "1" },
    "max-mib": { type: "string", default: "4" },
  },
});
const JOBS = Number(args.jobs);
const MiB = 1024 * 1024;
const BYTES = { min: Number(args["min-mib"]) * MiB, max: Number(args["max-mib"]) * MiB };
/** Distinct contents (each registered on chain); the jobs take them in turn. */
const CONTENTS = 24;
const TARGET_SPEEDUP = 1.6;

const serviceLog = createServiceLog();
let stack: BenchStack | undefined;

async function connectAdmin(s: BenchStack): Promise<NatsClients> {
  if (!s.natsPasswordsFile) throw new Error("the bench stack did not start nats-server (NATS_URL set?): no admin login");
  const { NATS_USER, NATS_PASSWORD } = natsUserEnv("admin", JSON.parse(await readFile(s.natsPasswordsFile, "utf8")) as NatsPasswords);
  return connectNats({ url: s.natsUrl, auth: { kind: "password", user: NATS_USER, password: NATS_PASSWORD }, name: "veriflow-bench", log: createSilentLogger() });
}

/** Queues JOBS jobs with hashing stopped, starts `replicas` hashing processes, and times the drain: jobs/s. */
async function timeHashing(s: BenchStack, client: NatsClients, replicas: number): Promise<number> {
  out(`\n== hashing with ${replicas} replica${replicas > 1 ? "s" : ""}: ${JOBS} jobs of ${fmt(BYTES.min / MiB, 0)}–${fmt(BYTES.max / MiB, 0)} MiB queued, then drained`);
  await Promise.all(s.services.hashing.map(stopService));
  const before = (await jobsWith(client, "content.hashed")).size;
  const queuedAt = performance.now();
  let next = 0;
  const submit = async () => {
    for (let i = next++; i < JOBS; i = next++) if (!(await submitOne(s, s.contents[i % s.contents.length]!))) throw new Error(`submission ${i} was not accepted: ${submitErrors.samples.at(-1)}`);
  };
  await Promise.all(Array.from({ length: 4 }, submit));
  out(`  queued in ${fmt((performance.now() - queuedAt) / 1000, 1)} s`);
  for (let r = 0; r < replicas; r++) await s.restartService("hashing", r);
  // Where the CPU went while the stage drained: is hashing (both replicas together) the busy one?
  const cpuBefore = await takeCpuSnapshot(s);
  const spawnedAt = performance.now();
  // Timed from the first hashed job, not from the spawn: the processes' start-up is not the stage's work.
  let first: { at: number; count: number } | null = null;
  const deadline = Date.now() + 300_000;
  for (;;) {
    const count = (await jobsWith(client, "content.hashed")).size - before;
    const at = performance.now();
    if (count > 0 && first === null) first = { at, count };
    if (count >= JOBS && first) {
      const perS = (count - first.count) / ((at - first.at) / 1000);
      out(`  ${count} hashed, ${count - first.count} of them in ${fmt((at - first.at) / 1000, 2)} s after the first: ${fmt(perS, 1)} jobs/s (${fmt((perS * (BYTES.min + BYTES.max)) / 2 / MiB, 0)} MiB/s)`);
      printCpu(cpuBefore, await takeCpuSnapshot(s), (performance.now() - spawnedAt) / 1000);
      out(`  host load average (1 min): ${fmt(loadavg()[0]!, 1)} on ${cpus().length} cores`);
      return perS;
    }
    if (Date.now() > deadline) throw new Error(`only ${count} of ${JOBS} hashed within 300 s`);
    await sleep(100);
  }
}

async function main() {
  const started = Date.now();
  out(`veriflow replicas bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cpus (shared with whatever else runs here)`);
  stack = await startBenchStack(CONTENTS, serviceLog.print, { replicas: { hashing: 2 }, contentBytes: BYTES });
  out(`stack up: 2 hashing replicas available, 1 of every other service; ${CONTENTS} contents of ${fmt(BYTES.min / MiB, 0)}–${fmt(BYTES.max / MiB, 0)} MiB registered`);
  const client = await connectAdmin(stack);
  let one: number;
  let two: number;
  try {
    one = await timeHashing(stack, client, 1);
    two = await timeHashing(stack, client, 2);
  } finally {
    await client.close();
    await stack.stop();
  }
  const speedup = two / one;
  const cores = cpus().length;
  const mark = (ok: boolean) => (ok ? "PASS" : "MISS");
  out(`\n== summary (${((Date.now() - started) / 1000).toFixed(0)} s total)`);
  out(`  ${"figure".padEnd(40)} ${"value".padEnd(20)} ${"target".padEnd(12)} result`);
  out(`  ${"hashing jobs/s, 1 replica".padEnd(40)} ${fmt(one, 1).padEnd(20)} ${"-".padEnd(12)} n/a`);
  out(`  ${"hashing jobs/s, 2 replicas".padEnd(40)} ${fmt(two, 1).padEnd(20)} ${"-".padEnd(12)} n/a`);
  out(`  ${"2 replicas / 1 replica".padEnd(40)} ${`${fmt(speedup, 2)}×`.padEnd(20)} ${`≥ ${TARGET_SPEEDUP}×`.padEnd(12)} ${mark(speedup >= TARGET_SPEEDUP)}`);
  out(`  note: ${cores} cores on this machine, shared by both replicas, nats-server (it serves every chunk), the other stages and anything`);
  out(`        else running here: a second replica only gains what the first leaves idle (the cpu lines above say how busy each was).`);
  out(`  submit errors: ${submitErrors.count}; service warn/error log lines: ${JSON.stringify(Object.fromEntries(serviceLog.counts))}`);
  for (const l of serviceLog.samples.slice(0, 10)) out(`    ${l}`);
}

runBench(main, { stack: () => stack, serviceLog });
