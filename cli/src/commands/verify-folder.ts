import { randomUUID } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { JOBS_PAGE_SIZE } from "@veriflow/events";
import { createApiClient, type ApiClient, type Batch, type BatchAccepted, type Job } from "../api.js";
import type { Command } from "../args.js";
import { InterruptedError, UsageError, WaitTimeoutError } from "../errors.js";
import { EXIT, exitCodeForJob } from "../exit-codes.js";
import { printJson, type Io } from "../io.js";
import { createProgressReporter } from "../progress.js";

type VerifyFolderCommand = Extract<Command, { kind: "verify-folder" }>;

const POLL_MS = 500;

/** One line of the summary: a job of a batch, or a file the gateway refused. */
interface Row {
  fileName: string;
  jobId: string | null;
  status: string;
  verdict: string;
  exitCode: number;
}

/**
 * `veriflow verify <dir> --manifest-map map.json`: the folder's files (map: file name →
 * manifest URI) as batches of at most --batch-size, one progress bar until every job ended,
 * then a summary table. Exit code: the worst of its jobs (4 failed or refused, 1 FAIL, 3 WARN, 0 OK).
 */
export async function runVerifyFolder(cmd: VerifyFolderCommand, io: Io): Promise<number> {
  const files = await filesToVerify(cmd.dir, await readManifestMap(cmd.manifestMap));
  const api = createApiClient(cmd.common);
  const accepted: BatchAccepted[] = [];
  for (let i = 0; i < files.length; i += cmd.batchSize) {
    const part = files.slice(i, i + cmd.batchSize);
    // One key per batch, so a resend of the same batch (this process retrying) never makes a second one.
    accepted.push(await api.submitBatch({ files: part, registryAddress: cmd.registry, rpcUrl: cmd.rpcUrl, type: cmd.proof ? "proof" : "verify", idempotencyKey: randomUUID() }));
  }
  const total = accepted.reduce((n, b) => n + b.jobs.length, 0);
  if (!cmd.common.quiet) io.stderr.write(`${total} of ${files.length} files queued in ${accepted.length} batch${accepted.length === 1 ? "" : "es"} (${accepted.map((b) => b.batchId).join(", ")})\n`);
  const jobs = total === 0 ? [] : await followBatches(io, api, accepted, cmd);
  const rows = [...jobs.map(rowOfJob), ...accepted.flatMap((b) => b.rejected.map((r) => ({ fileName: r.fileName ?? `#${r.index}`, jobId: null, status: "rejected", verdict: r.code, exitCode: EXIT.JOB_FAILED })))];
  rows.sort((a, b) => a.fileName.localeCompare(b.fileName));
  if (cmd.common.json) printJson(io, { batches: accepted.map((b) => b.batchId), results: rows });
  else io.stdout.write(formatSummary(rows));
  return worstExitCode(rows);
}

async function readManifestMap(path: string): Promise<Map<string, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new UsageError(`cannot read the manifest map ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new UsageError(`${path} must be a JSON object: { "<file name>": "<manifest URI>", … }`);
  const map = new Map<string, string>();
  for (const [name, uri] of Object.entries(parsed)) {
    if (typeof uri !== "string" || uri === "") throw new UsageError(`${path}: the manifest URI of "${name}" must be a non-empty string`);
    map.set(name, uri);
  }
  return map;
}

/** The folder's regular files, by name, each with its manifest URI; a file the map does not name is a usage error. */
async function filesToVerify(dir: string, map: Map<string, string>): Promise<{ path: string; manifestUri: string }[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new UsageError(`cannot read the folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const names = entries.filter((e) => e.isFile()).map((e) => e.name).sort();
  const unmapped = names.filter((n) => !map.has(n));
  if (unmapped.length > 0) throw new UsageError(`the manifest map names no manifest for ${unmapped.slice(0, 5).join(", ")}${unmapped.length > 5 ? ` and ${unmapped.length - 5} more` : ""}`);
  if (names.length === 0) throw new UsageError(`${dir} holds no file`);
  for (const n of names) await stat(join(dir, n));
  return names.map((n) => ({ path: join(dir, n), manifestUri: map.get(n)! }));
}

/** Polls the batches until every job ended: one bar for all of them (the share of jobs ended). */
async function followBatches(io: Io, api: ApiClient, accepted: readonly BatchAccepted[], cmd: VerifyFolderCommand): Promise<Job[]> {
  const total = accepted.reduce((n, b) => n + b.jobs.length, 0);
  const progress = createProgressReporter(io.stderr, "", {
    enabled: !cmd.common.quiet,
    subject: `${total} jobs`,
    describe: (j) => `${Math.round((j.progress / 100) * total)} of ${total} jobs ended`,
  });
  const deadline = cmd.timeoutMs > 0 ? Date.now() + cmd.timeoutMs : Infinity;
  let lastEnded = -1;
  try {
    for (;;) {
      if (io.signal?.aborted) throw new InterruptedError(accepted[0]!.batchId);
      const batches = await Promise.all(accepted.map((b) => readBatch(api, b.batchId, io.signal)));
      const ended = batches.reduce((n, b) => n + (b ? b.counts.completed + b.counts.failed : 0), 0);
      const done = batches.every((b) => b?.done === true);
      if (ended !== lastEnded || done) {
        lastEnded = ended;
        progress.update({ status: done ? "completed" : "processing", progress: Math.floor((ended / total) * 100) } as Job);
      }
      if (done) return (await Promise.all(accepted.map((b) => allJobs(api, b.batchId)))).flat();
      if (Date.now() > deadline) throw new WaitTimeoutError(accepted[0]!.batchId, `${ended} of ${total} jobs ended`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    progress.done();
  }
}

/** A batch, or null until its record is projected (its jobs are queued before it). */
async function readBatch(api: ApiClient, batchId: string, signal?: AbortSignal): Promise<Batch | null> {
  return api.getBatch(batchId, { limit: 1, offset: 0 }, signal).catch((err: { code?: string }) => {
    if (err.code === "E_BATCH_NOT_FOUND") return null;
    throw err;
  });
}

async function allJobs(api: ApiClient, batchId: string): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let offset = 0; ; offset += JOBS_PAGE_SIZE.max) {
    const page = await api.getBatch(batchId, { limit: JOBS_PAGE_SIZE.max, offset });
    jobs.push(...page.jobs);
    if (page.jobs.length < JOBS_PAGE_SIZE.max) return jobs;
  }
}

function rowOfJob(job: Job): Row {
  const verdict = job.status === "failed" ? (job.failure?.code ?? "failed") : String(job.result?.status ?? "-");
  return { fileName: job.fileName ?? job.id, jobId: job.id, status: job.status, verdict, exitCode: exitCodeForJob(job) };
}

/** Failed or refused files first, then FAIL, then WARN: the code a script most needs to see. */
function worstExitCode(rows: readonly Row[]): number {
  for (const code of [EXIT.JOB_FAILED, EXIT.FAIL, EXIT.WARN]) if (rows.some((r) => r.exitCode === code)) return code;
  return EXIT.OK;
}

function formatSummary(rows: readonly Row[]): string {
  const width = Math.min(48, Math.max(4, ...rows.map((r) => r.fileName.length)));
  const line = (cols: string[]) => `${cols[0]!.padEnd(width)}  ${cols[1]!.padEnd(36)}  ${cols[2]!.padEnd(9)}  ${cols[3]}`;
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);
  const tally = [...counts].map(([v, n]) => `${n} ${v}`).join(", ");
  return [line(["file", "job", "status", "verdict"]), ...rows.map((r) => line([r.fileName, r.jobId ?? "-", r.status, r.verdict])), `${rows.length} files: ${tally}`, ""].join("\n");
}
