/**
 * The scale-out proof on loopback (`npm run test:scale`): a three-node nats-server cluster with
 * the streams and buckets at R3, two replicas of every service as processes, and a steady load
 * spread over both gateways by a client that retries "come back later" answers after their
 * Retry-After, as a real one does. Mid-load the node leading the events stream is killed with
 * -9, later one replica of each pipeline stage; each comes back a few seconds on. After the
 * drain the chaos suite's audit counts lost, doubled, wrong, orphaned, undelivered and stale
 * jobs. Exits 1 when a count is not 0, a valid job failed, a service exited on its own or a
 * submission was still refused after its retries. Prints the leaderless window, the 503s it
 * caused and the pickup time of the killed replicas' work against issue 11's targets (PASS/MISS:
 * timings of a shared box, never a reason to fail the run).
 *
 *   npx tsx tests/scale/run.ts [--jobs N] [--rate R] [--replicas K] [--down-s S]
 *
 * Runs the services from their build output: `npm run test:scale` builds first.
 */
import { appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { pipeline, serviceNames } from "@veriflow/events";
import { DEFAULT_ACK_WAIT_MS } from "@veriflow/nats";
import { DEFAULT_RETRY_FOR_S } from "../../cli/src/defaults.js";
import { killService } from "../../deploy/local/src/service-processes.js";
import { fmt } from "../../bench/support/output.js";
import { collectEvidence, countFaults, drain, eventsInStream } from "../chaos/support/audit.js";
import { exitedOnTheirOwn, startInfra, waitReady, type Infra, type ServiceSettings } from "../chaos/support/infra.js";
import { runLoad, type Submission } from "../chaos/support/load.js";
import { out, passed, printReport, type ScenarioResult } from "../chaos/support/report.js";
import { startTerminalRecorder, type TerminalRecorder } from "../chaos/support/terminal-recorder.js";
import { startClusterStack, type ClusterStack } from "./support/cluster-stack.js";
import { countUnavailable, pickupAfterKill, validJobsFailed, type Distribution } from "./support/scale-figures.js";
import { createLeaderWatch } from "./support/stream-leader.js";

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "1200" },
    rate: { type: "string", default: "25" },
    replicas: { type: "string", default: "2" },
    "down-s": { type: "string", default: "4" },
  },
});
const JOBS = Number(args.jobs);
const RATE = Number(args.rate);
const REPLICAS = Number(args.replicas);
const DOWN_MS = Number(args["down-s"]) * 1000;
/** As the chaos suite: the services' default ack wait, the one a deployment runs. */
const SETTINGS: ServiceSettings = { ackWaitMs: DEFAULT_ACK_WAIT_MS, retryBaseMs: 200, retryMaxMs: 3000 };
/**
 * Issue 11's targets: at most 2 % of submissions told to come back (the gateway holds a
 * submission through an election, GATEWAY_HOLD_MS). Before the hold and the 8 s ack wait the
 * same run saw 1–7 % 503s and pickups of 9–19 s (a 30 s ack wait would have made them 30 s and more).
 */
const TARGET_503_PCT = 2;
/**
 * "In seconds, not after the full ack wait": a killed process cannot hand back what it held, so
 * its messages come back one ack wait (8 s, was 30) after its last heartbeat, and the job then
 * needs the rest of its stages (about a second on a quiet box; 3 s allowed).
 */
const TARGET_PICKUP_MS = SETTINGS.ackWaitMs + 3000;
/**
 * When the faults hit, as fractions of the load: the stream leader's node first, the stage
 * replicas once the cluster has settled, so the pickup time is not the election's.
 */
const NODE_KILL_AT = 0.25;
const REPLICA_KILL_AT = 0.6;
/** How long after a new leader 503s still count as the election's (the issue saw seconds of fallback past it). */
const WINDOW_TAIL_MS = 10_000;
/** The wait for a replica's readiness, at start and after a restart: on the shared 2-core box (load average up to 48) 60 s was not enough. */
const READY_TIMEOUT_MS = 180_000;
const SCENARIO = "scale";
const logFile = join(tmpdir(), `veriflow-scale-${new Date().toISOString().replace(/[:.]/g, "-")}.log`);
const print = (line: string) => appendFileSync(logFile, line + "\n");

const running: { stack?: ClusterStack; infra?: Infra; recorder?: TerminalRecorder } = {};

interface Faults {
  nodeKilledAt: number;
  leaderBefore: string;
  leaderAfter: string;
  leaderBackAt: number;
  replicasKilledAt: number;
}

async function injectFaults(stack: ClusterStack, at: (fraction: number) => Promise<void>, log: (line: string) => void): Promise<Faults> {
  const watch = await createLeaderWatch(stack.client);
  await at(NODE_KILL_AT);
  const leaderBefore = await watch.leader();
  const node = stack.cluster.node(leaderBefore);
  const nodeKilledAt = Date.now();
  await node.kill();
  log(`killed nats-server ${leaderBefore} (-9), the events stream's leader`);
  let restarted = false;
  const elected = watch.waitForNewLeader(leaderBefore, () => restarted);
  await sleep(DOWN_MS);
  await node.restart();
  restarted = true;
  const { leader: leaderAfter, at: leaderBackAt } = await elected;
  log(`new leader ${leaderAfter} after ${fmt((leaderBackAt - nodeKilledAt) / 1000, 1)} s; ${leaderBefore} restarted`);
  await stack.cluster.waitForJetStream();

  await at(REPLICA_KILL_AT);
  const stages = pipeline.stages.map((s) => s.service);
  const victim = REPLICAS - 1;
  const replicasKilledAt = Date.now();
  await Promise.all(stages.map((name) => killService(stack.local.services[name][victim]!)));
  log(`killed ${stages.map((n) => `${n}#${victim}`).join(", ")} (-9)`);
  await sleep(DOWN_MS);
  await Promise.all(stages.map((name) => stack.local.restartService(name, victim)));
  await Promise.all(stages.map((name) => waitReady(stack, name, READY_TIMEOUT_MS, victim)));
  log(`${stages.map((n) => `${n}#${victim}`).join(", ")} restarted and ready`);
  return { nodeKilledAt, leaderBefore, leaderAfter, leaderBackAt, replicasKilledAt };
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const log = (line: string) => {
    print(`scale       ${line}`);
    out(`  ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${line}`);
  };
  out(`veriflow scale test — ${new Date().toISOString()} — 3 nats-server nodes (R3), ${REPLICAS} replicas of every service, ${JOBS} jobs at ${RATE}/s`);
  const infra = (running.infra = await startInfra());
  const stack = (running.stack = await startClusterStack(infra, { replicas: REPLICAS, settings: SETTINGS, print, readyTimeoutMs: READY_TIMEOUT_MS }));
  for (const name of serviceNames) for (let i = 0; i < REPLICAS; i++) await waitReady(stack, name, READY_TIMEOUT_MS, i);
  log(`stack up: nats ${stack.cluster.url}; gateways ${stack.local.gatewayUrls.join(" ")}`);
  const recorder = (running.recorder = await startTerminalRecorder(stack.client));
  const result: ScenarioResult = { name: SCENARIO, fault: "", kills: 4, seconds: 0, audit: null, drain: "-", error: null };
  const callbackUrl = infra.callbacks.urlFor(SCENARIO);
  const loadStart = Date.now() + 200;
  const loadMs = (JOBS / RATE) * 1000;
  const [subs, faults] = await Promise.all([
    runLoad(
      {
        gatewayUrls: stack.local.gatewayUrls,
        registry: infra.registry,
        cases: infra.cases,
        jobs: JOBS,
        rate: RATE,
        maxInFlight: 64,
        callbackUrl,
        callbackEvery: 4,
        timeoutMs: 15_000,
        // What `veriflow verify` allows by default (--retry-for): one overloaded run's client gave up on a
        // submission after 30 s of timeouts and an E_IDEMPOTENCY_KEY_IN_PROGRESS answer.
        retryForMs: DEFAULT_RETRY_FOR_S * 1000,
      },
      loadStart,
    ),
    injectFaults(stack, (f) => sleep(Math.max(0, loadStart + f * loadMs - Date.now())), log),
  ]);
  log(`load done: ${subs.length} submitted`);
  result.fault = `kill -9 the events stream's leader node (${faults.leaderBefore}) at ${NODE_KILL_AT * 100}% and one replica of each stage at ${REPLICA_KILL_AT * 100}% of the load, each back ${DOWN_MS / 1000} s later`;
  const d = await drain(stack.client, recorder, stack.local.gatewayUrl, subs, () => infra.callbacks.received(SCENARIO), { stallMs: 20_000, maxMs: 120_000 });
  // Late duplicates come with redeliveries: wait out one ack wait before counting.
  await sleep(SETTINGS.ackWaitMs + 1000);
  result.drain = `${d.ended} after ${d.waitedS.toFixed(0)} s (+${(SETTINGS.ackWaitMs + 1000) / 1000} s for late duplicates)`;
  const evidence = await collectEvidence(stack.client, recorder, stack.local.gatewayUrl, subs, infra.callbacks.received(SCENARIO));
  result.audit = countFaults(evidence);
  // What each lost job got to in the stream: which stage's event is its last.
  for (const id of result.audit.lostJobIds.slice(0, 10)) result.audit.notes.push(`lost ${id}: ${await eventsInStream(stack.client, id)}`);
  const exited = exitedOnTheirOwn(stack);
  if (exited.length) result.audit.notes.unshift(`services not running at the end (not killed by the test): ${exited.join(", ")}`);
  result.seconds = (Date.now() - t0) / 1000;
  out("");
  printReport([result], result.seconds);

  const leaderlessMs = faults.leaderBackAt - faults.nodeKilledAt;
  const unavailable = countUnavailable(subs, { from: faults.nodeKilledAt, to: faults.leaderBackAt + WINDOW_TAIL_MS });
  const { pickup, around } = pickupAfterKill(subs, evidence.terminal, faults.replicasKilledAt);
  const validFailed = validJobsFailed(subs, evidence.terminal);
  const pct503 = (100 * unavailable.submissions) / subs.length;
  // What fails the run: correctness, whatever the box's load. [check, value, passed]
  const gates: [string, string, boolean][] = [
    ["valid jobs failed", String(validFailed), validFailed === 0],
    ["services exited on their own", exited.length ? exited.join(" ") : "0", exited.length === 0],
    ["refused or unanswered after retrying", String(unavailable.refusedAfterRetries), unavailable.refusedAfterRetries === 0],
  ];
  // Figures against issue 11's targets, printed PASS/MISS: they time a loaded box (a leaderless
  // window and a backlog grow with the load), so they never fail the run. [figure, value, target, met]
  const figures: [string, string, string, boolean][] = [
    ["submissions answered 503 at least once", `${unavailable.submissions} (${fmt(pct503, 2)}%)`, `≤ ${TARGET_503_PCT}%`, pct503 <= TARGET_503_PCT],
    ["pickup of killed replicas' work (max)", `${fmt(pickup.max / 1000, 2)} s`, `< ${TARGET_PICKUP_MS / 1000} s`, pickup.count > 0 && pickup.max < TARGET_PICKUP_MS],
  ];
  out(`\n== scale figures`);
  out(`  leaderless window: ${fmt(leaderlessMs / 1000, 1)} s (${faults.leaderBefore} killed → ${faults.leaderAfter} leads; stream info polled every ~0.1 s with a 1 s timeout)`);
  out(`  503 answers: ${unavailable.answers} in all, ${unavailable.inWindow} from the kill to ${WINDOW_TAIL_MS / 1000} s after the new leader; by code: ${[...unavailable.byCode].map(([c, n]) => `${n}× ${c}`).join(", ") || "none"}`);
  out(`  client retries (after Retry-After, or 1 s after no answer): ${unavailable.retries} (${retryKinds(subs)}); still refused or unanswered after retrying: ${unavailable.refusedAfterRetries}`);
  out(`  pickup (kill of ${pipeline.stages.map((s) => s.service).join(", ")} replica → end of jobs in flight then): ${dist(pickup)}`);
  out(`  submit → end of jobs sent within 2 s of that kill: ${dist(around)}`);
  out(`  terminal events stored twice (same id and content: every consumer drops the copy; nats-server 2.9 across a leader change): ${result.audit.copies}`);
  out(`  services ran with CONSUMER_ACK_WAIT_MS=${SETTINGS.ackWaitMs}`);
  out(`\n  ${"check (fails the run)".padEnd(40)} ${"value".padEnd(16)} result`);
  for (const [name, value, ok] of gates) out(`  ${name.padEnd(40)} ${value.padEnd(16)} ${ok ? "pass" : "FAIL"}`);
  out(`\n  ${"figure (issue 11's target)".padEnd(40)} ${"value".padEnd(16)} ${"target".padEnd(8)} result`);
  for (const [name, value, target, met] of figures) out(`  ${name.padEnd(40)} ${value.padEnd(16)} ${target.padEnd(8)} ${met ? "PASS" : "MISS"}`);
  out(`\nservice logs: ${logFile}`);
  if (passed(result) && gates.every(([, , ok]) => ok)) return 0;
  return 1;
}

function retryKinds(subs: readonly Submission[]): string {
  const kinds = new Map<string, number>();
  for (const r of subs.flatMap((s) => s.retries ?? [])) kinds.set(`${r.status || "-"} ${r.code}`, (kinds.get(`${r.status || "-"} ${r.code}`) ?? 0) + 1);
  return [...kinds].map(([k, n]) => `${n}× ${k}`).join(", ") || "none";
}

const dist = (d: Distribution) => `${d.count} jobs, p50 ${fmt(d.p50 / 1000, 2)} s, p95 ${fmt(d.p95 / 1000, 2)} s, max ${fmt(d.max / 1000, 2)} s`;

async function stopAll(): Promise<void> {
  await running.recorder?.stop().catch(() => {});
  await running.stack?.stop().catch(() => {});
  await running.infra?.stop().catch(() => {});
}

process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));

main().then(
  async (code) => {
    await stopAll();
    process.exit(code);
  },
  async (err) => {
    out(`scale test failed: ${err instanceof Error ? err.stack : String(err)}`);
    out(`service logs: ${logFile}`);
    await stopAll();
    process.exit(2);
  },
);
