/**
 * Priorities under a bulk load: a single verification's latency while thousands of bulk jobs
 * wait, with priority classes and without them. Prints figures; it is not a test.
 *
 *   npx tsx bench/priority.ts [--bulk N] [--load batches|singles] [--batch-files B] [--clients C] [--samples S] [--fifo-samples F] [--contents K]
 *
 * Starts the local stack (as bench/e2e.ts does, from the services' dist: `npm run bench:priority`
 * builds first), then, one after the other:
 * 1. idle: S single verifications, one at a time, submit → verdict (`?wait=`: from the terminal
 *    event, not the status projection, which lags any load by its own backlog);
 * 2. priority: N files of bulk work — by default as batches of B files
 *    (`POST /api/verification-batches`, C/8 batches in flight at once; a batch's jobs are bulk;
 *    a refused batch is sent again after the answer's Retry-After, as a real client does),
 *    or with `--load singles` as N submissions with `priority=bulk` by C clients — arriving
 *    faster than the pipeline works them off, and from the moment a tenth
 *    of them is in until the last has ended, S single verifications (interactive, the default),
 *    one at a time, each noting the queue's depth (waiting + active jobs) when it was sent;
 * 3. no priority: the same bulk load again, and F single verifications sent with
 *    `priority=bulk` too: what every job got before priorities (one FIFO queue per stage).
 * Target: interactive p95 during the load ≤ 2 s, or ≤ 3 × the idle p95.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { BATCHES_PATH, JOBS_PATH, type JobPriority } from "@veriflow/events";
import { startBenchStack, type BenchStack } from "./support/bench-stack.js";
import type { Content } from "./support/contents.js";
import { getHistory, getJob as getJobOnce, getStats as getStatsOnce } from "./support/gateway.js";
import { fmt, out, pct } from "./support/output.js";
import { createServiceLog } from "./support/service-log.js";

const { values: args } = parseArgs({
  options: {
    bulk: { type: "string", default: "5000" },
    load: { type: "string", default: "batches" },
    "batch-files": { type: "string", default: "100" },
    clients: { type: "string", default: "64" },
    samples: { type: "string", default: "50" },
    "fifo-samples": { type: "string", default: "10" },
    contents: { type: "string", default: "100" },
  },
});
const BULK = Number(args.bulk);
const SAMPLES = Number(args.samples);
const FIFO_SAMPLES = Number(args["fifo-samples"]);
const BULK_CLIENTS = Number(args.clients);
const LOAD = args.load === "singles" ? "singles" : "batches";
const BATCH_FILES = Number(args["batch-files"]);

/** A read the loaded box may cut (a kept-alive socket closed under us): tried again, up to 5 times. */
async function retrying<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(100 * attempt);
    }
  }
}
const getStats = (url: string) => retrying(() => getStatsOnce(url));
const getJob = (url: string, jobId: string) => retrying(() => getJobOnce(url, jobId));

/** Submits one content; the job id, or throws with the gateway's answer. */
async function submit(stack: BenchStack, c: Content, priority?: JobPriority, wait = false): Promise<{ jobId: string; done: boolean }> {
  const form = new FormData();
  form.append("registryAddress", stack.registry);
  form.append("manifestURI", c.manifestUri);
  // Contents are cycled: fresh keeps every job a full run (no known verdict), as when measured.
  form.append("fresh", "true");
  if (priority) form.append("priority", priority);
  form.append("file", new Blob([c.bytes]), "bench.bin");
  // `?wait=` answers from the job's terminal event as it is published (as /api/verify does), not
  // from the status projection, which reads every job's events in one stream order and lags a load.
  const res = await fetch(`${stack.gatewayUrl}${JOBS_PATH}/verify${wait ? "?wait=60" : ""}`, { method: "POST", body: form });
  const body = (await res.json()) as { jobId?: string; result?: unknown };
  if ((res.status !== 202 && res.status !== 200) || !body.jobId) throw new Error(`${res.status} ${JSON.stringify(body).slice(0, 200)}`);
  return { jobId: body.jobId, done: res.status === 200 };
}

/** Submissions of a single verification the gateway refused or cut (each sent again 100 ms later). */
const refusedSingles: string[] = [];

/** One verification, submit → its verdict (`?wait=`; polled every 20 ms past the wait); ms, refusals and resends included. */
async function timeOne(stack: BenchStack, c: Content, priority?: JobPriority): Promise<{ ms: number; jobId: string; sentAt: number }> {
  const t = performance.now();
  const sentAt = Date.now();
  let answer: { jobId: string; done: boolean } | undefined;
  while (!answer) {
    answer = await submit(stack, c, priority, true).catch((err: unknown) => {
      refusedSingles.push(String(err).slice(0, 160));
      return sleep(100).then(() => undefined);
    });
  }
  const { jobId } = answer;
  if (answer.done) return { ms: performance.now() - t, jobId, sentAt };
  for (;;) {
    const job = await getJob(stack.gatewayUrl, jobId);
    if (job.status === "completed" || job.status === "failed") return { ms: performance.now() - t, jobId, sentAt };
    await sleep(20);
  }
}

/**
 * Sequential single verifications while `busy()` holds (and at most `n`), with the queue depth
 * each met and whether the bulk load was still being uploaded when it was sent.
 */
async function sample(
  stack: BenchStack,
  n: number,
  priority: JobPriority | undefined,
  busy: () => boolean,
  uploading: () => boolean = () => false,
): Promise<{ ms: number[]; depth: number[]; jobs: { jobId: string; sentAt: number }[]; whileUploading: boolean[] }> {
  const ms: number[] = [];
  const depth: number[] = [];
  const jobs: { jobId: string; sentAt: number }[] = [];
  const whileUploading: boolean[] = [];
  for (let i = 0; i < n && busy(); i++) {
    const s = await getStats(stack.gatewayUrl);
    depth.push(s.waiting + s.active);
    whileUploading.push(uploading());
    const one = await timeOne(stack, stack.contents[i % stack.contents.length]!, priority);
    ms.push(one.ms);
    jobs.push(one);
  }
  return { ms, depth, jobs, whileUploading };
}

/**
 * Where the samples' time went: from the client's send to each event of the job in turn (by
 * the `occurredAt` its producer stamped), p50 and max per hop: the gateway (send → requested),
 * then each stage (its input → its output, queueing included). Read once the load has drained.
 */
async function hops(stack: BenchStack, jobs: readonly { jobId: string; sentAt: number }[]): Promise<string> {
  const byHop = new Map<string, number[]>();
  for (const { jobId, sentAt } of jobs) {
    const events = (await getHistory(stack.gatewayUrl, jobId).catch(() => [])).filter((e) => e.type !== "verification.changed");
    let from = { label: "send", at: sentAt };
    for (const e of events) {
      const at = Date.parse(e.occurredAt);
      const key = `${from.label} → ${e.type}`;
      byHop.set(key, [...(byHop.get(key) ?? []), at - from.at]);
      from = { label: e.type, at };
    }
  }
  return [...byHop].map(([hop, ms]) => `${hop} p50 ${fmt(pct(ms, 50), 0)} / max ${fmt(Math.max(...ms), 0)} ms`).join("; ");
}

/** N bulk submissions by BULK_CLIENTS clients; resolves once all are accepted. */
async function submitBulk(stack: BenchStack, n: number, progress: { sent: number }): Promise<{ accepted: number; errors: number; seconds: number }> {
  let next = 0;
  let errors = 0;
  const t = performance.now();
  const client = async () => {
    while (next < n) {
      const i = next++;
      await submit(stack, stack.contents[i % stack.contents.length]!, "bulk").catch(() => errors++);
      progress.sent++;
    }
  };
  await Promise.all(Array.from({ length: BULK_CLIENTS }, client));
  return { accepted: n - errors, errors, seconds: (performance.now() - t) / 1000 };
}

/** Why batches were refused, by status and code (`503 E_QUEUE_BACKLOG`, `fetch failed`, …): each is sent again. */
const batchRefusals = new Map<string, number>();
/** Files of accepted batches the gateway rejected, by code. */
const fileRejections = new Map<string, number>();
const noteRefusal = (why: string) => batchRefusals.set(why, (batchRefusals.get(why) ?? 0) + 1);
/** How many times a refused batch is sent again before it is given up (counted in `errors`). */
const BATCH_ATTEMPTS = 20;

/**
 * One batch of `items` (each file with its manifestURI, in order), sent as a well-behaved bulk
 * client sends it: refused (a full backlog, a full store), it waits the answer's Retry-After
 * (1 s without one) and sends the same batch again. The number of jobs it was given, or 0 once
 * it gave up.
 */
async function submitBatch(stack: BenchStack, items: readonly Content[]): Promise<number> {
  for (let attempt = 1; attempt <= BATCH_ATTEMPTS; attempt++) {
    const form = new FormData();
    form.append("registryAddress", stack.registry);
    form.append("fresh", "true");
    items.forEach((c, i) => form.append("file", new Blob([c.bytes]), `bench-${i}.bin`));
    for (const c of items) form.append("manifestURI", c.manifestUri);
    let waitS = 1;
    try {
      const res = await fetch(`${stack.gatewayUrl}${BATCHES_PATH}`, { method: "POST", body: form });
      const body = (await res.json().catch(() => ({}))) as { jobs?: unknown[]; rejected?: { code: string }[]; error?: { code?: string } };
      if (res.status === 202 && body.jobs) {
        for (const r of body.rejected ?? []) fileRejections.set(r.code, (fileRejections.get(r.code) ?? 0) + 1);
        return body.jobs.length;
      }
      noteRefusal(`${res.status} ${body.error?.code ?? ""}`.trim());
      waitS = Number(res.headers.get("retry-after")) || 1;
    } catch (err) {
      noteRefusal(String((err as Error).message ?? err).slice(0, 60));
    }
    await sleep(waitS * 1000);
  }
  return 0;
}

/** N files as batches of BATCH_FILES, BULK_CLIENTS / 8 of them uploading at once; resolves once all are accepted. */
async function submitBatches(stack: BenchStack, n: number, progress: { sent: number }): Promise<{ accepted: number; errors: number; seconds: number }> {
  let next = 0;
  let accepted = 0;
  const t = performance.now();
  const client = async () => {
    while (next < n) {
      const from = next;
      next = Math.min(n, next + BATCH_FILES);
      const items = Array.from({ length: next - from }, (_, k) => stack.contents[(from + k) % stack.contents.length]!);
      // Awaited first: `accepted += await …` would add to the count read before the wait, losing the other clients' batches.
      const jobs = await submitBatch(stack, items);
      accepted += jobs;
      progress.sent += items.length;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.floor(BULK_CLIENTS / 8)) }, client));
  return { accepted, errors: n - accepted, seconds: (performance.now() - t) / 1000 };
}

const finished = async (stack: BenchStack) => {
  const s = await getStats(stack.gatewayUrl);
  return s.completed + s.failed;
};

/** Waits until `target` jobs have ended; false if nothing moved for a minute. */
async function drain(stack: BenchStack, target: number): Promise<boolean> {
  let last = -1;
  let moved = Date.now();
  for (;;) {
    const done = await finished(stack);
    if (done >= target) return true;
    if (done !== last) [last, moved] = [done, Date.now()];
    else if (Date.now() - moved > 60_000) return false;
    await sleep(250);
  }
}

/** A bulk load with single verifications measured while its jobs are still unfinished. */
async function underLoad(stack: BenchStack, n: number, priority: JobPriority | undefined) {
  const before = await finished(stack);
  const progress = { sent: 0 };
  const loading = LOAD === "batches" ? submitBatches(stack, n, progress) : submitBulk(stack, n, progress);
  while (progress.sent < n / 10) await sleep(100);
  let loadDone = false;
  let uploading = true;
  void loading.finally(() => (uploading = false)).catch(() => {});
  void loading.then((l) => drain(stack, before + l.accepted)).finally(() => (loadDone = true)).catch(() => {});
  const { ms, depth, jobs, whileUploading } = await sample(stack, priority === "bulk" ? FIFO_SAMPLES : SAMPLES, priority, () => !loadDone, () => uploading);
  const load = await loading;
  if (!(await drain(stack, before + load.accepted + ms.length))) out("  !! the load did not drain");
  return { ms, depth, load, hops: await hops(stack, jobs), uploadingMs: ms.filter((_, i) => whileUploading[i]), runningMs: ms.filter((_, i) => !whileUploading[i]) };
}

const line = (label: string, ms: number[]) => out(`  ${label.padEnd(44)} n=${String(ms.length).padStart(3)}  p50 ${fmt(pct(ms, 50), 0).padStart(6)} ms  p95 ${fmt(pct(ms, 95), 0).padStart(6)} ms  max ${fmt(Math.max(...ms), 0).padStart(6)} ms`);

async function main(): Promise<void> {
  const serviceLog = createServiceLog();
  const loadShape = LOAD === "batches" ? `${BULK} files in batches of ${BATCH_FILES} (${Math.max(1, Math.floor(BULK_CLIENTS / 8))} uploading at once)` : `${BULK} bulk submissions by ${BULK_CLIENTS} clients`;
  out(`priority bench: ${loadShape}; ${SAMPLES} single verifications (${FIFO_SAMPLES} without priorities)`);
  const stack = await startBenchStack(Number(args.contents), serviceLog.print);
  // Interrupted: the stack's processes go with it.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stack.stop().finally(() => process.exit(130)));
  try {
    await Promise.all(stack.contents.slice(0, 20).map((c) => timeOne(stack, c))); // warm-up
    const { ms: idle } = await sample(stack, SAMPLES, undefined, () => true);
    const withPriority = await underLoad(stack, BULK, undefined);
    const fifo = await underLoad(stack, BULK, "bulk");
    out("");
    out(`single verification, submit → verdict (REST, ?wait=60):`);
    line("idle", idle);
    line(`during ${BULK} bulk jobs, interactive (priorities)`, withPriority.ms);
    // The gateway stores the batches' files while they upload: one process shares its CPU between them and the single.
    if (withPriority.uploadingMs.length > 0) line(`  … sent while the files were uploading`, withPriority.uploadingMs);
    if (withPriority.runningMs.length > 0) line(`  … sent once they were in, while their jobs ran`, withPriority.runningMs);
    line(`during ${BULK} bulk jobs, FIFO (sent as bulk too)`, fifo.ms);
    out(`  where an interactive sample's time went during the load: ${withPriority.hops}`);
    out(`  … and a FIFO one's: ${fifo.hops}`);
    out(`  queue depth met by the samples (p50 / max): ${fmt(pct(withPriority.depth, 50), 0)} / ${fmt(Math.max(...withPriority.depth), 0)} jobs with priorities, ${fmt(pct(fifo.depth, 50), 0)} / ${fmt(Math.max(...fifo.depth), 0)} without`);
    if (refusedSingles.length > 0) out(`  single submissions refused and sent again: ${refusedSingles.length}, e.g. ${refusedSingles[0]}`);
    out(`  bulk load submitted in ${fmt(withPriority.load.seconds)} s / ${fmt(fifo.load.seconds)} s (${withPriority.load.accepted} / ${fifo.load.accepted} jobs accepted, ${withPriority.load.errors + fifo.load.errors} files given up)`);
    if (fileRejections.size > 0) out(`  files of accepted batches rejected: ${[...fileRejections].map(([code, n]) => `${code} ×${n}`).join(", ")}`);
    if (batchRefusals.size > 0) out(`  batch submissions refused and sent again after Retry-After: ${[...batchRefusals].map(([why, n]) => `${why} ×${n}`).join(", ")}`);
    const p95 = pct(withPriority.ms, 95);
    const bound = Math.max(2000, 3 * pct(idle, 95));
    out("");
    out(`target: interactive p95 during the load ≤ 2 s or ≤ 3 × idle p95 (${fmt(bound, 0)} ms): ${fmt(p95, 0)} ms → ${p95 <= bound ? "PASS" : "MISS"}`);
  } finally {
    await stack.stop();
    if (serviceLog.samples.length > 0) out(`service warnings/errors: ${[...serviceLog.counts].map(([n, c]) => `${n} ${c}`).join(", ")}; e.g. ${serviceLog.samples[0]}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
