import { stat } from "node:fs/promises";
import { createApiClient, type Accepted, type Job } from "../api.js";
import type { Command } from "../args.js";
import { ApiError, UsageError } from "../errors.js";
import { EXIT, exitCodeForJob } from "../exit-codes.js";
import { followJob } from "../follow.js";
import { formatJob } from "../format.js";
import { printJson, type Io } from "../io.js";
import { createProgressReporter } from "../progress.js";
import { submitWithRetries, type RetryOptions } from "../retrying-submit.js";

type VerifyCommand = Extract<Command, { kind: "verify" }>;

/** `veriflow verify`: upload, print the job id; with --wait follow it and exit with the verdict. */
export async function runVerify(cmd: VerifyCommand, io: Io): Promise<number> {
  await checkFile(cmd.file);
  const { common } = cmd;
  const api = createApiClient(common);
  const input = { file: cmd.file, manifestUri: cmd.manifestUri, registryAddress: cmd.registry, rpcUrl: cmd.rpcUrl, priority: cmd.priority, recheckEvery: cmd.recheckEvery, fresh: cmd.fresh, type: cmd.proof ? "proof" : "verify" } as const;
  const accepted = await submitWithRetries(api, input, { retryForMs: cmd.retryForMs, signal: io.signal, onWait: tellRetry(io, common.quiet) });
  if (accepted.mode === "sync" && accepted.result) return printSyncVerdict(cmd, io, accepted);
  const jobId = accepted.jobId;
  if (!jobId) throw new ApiError(202, "E_BAD_RESPONSE", `the server accepted the file without a job id: ${JSON.stringify(accepted).slice(0, 200)}`);
  if (!cmd.wait) {
    if (common.json) printJson(io, accepted);
    else io.stdout.write(`${jobId}\n`);
    if (!common.quiet && !common.json) io.stderr.write(`queued; follow it with: veriflow jobs watch ${jobId}\n`);
    return EXIT.OK;
  }
  if (!common.quiet) io.stderr.write(`job ${jobId} queued\n`);
  const job = await followWithProgress(io, api, jobId, cmd.timeoutMs, common.quiet);
  if (common.json) printJson(io, job);
  else io.stdout.write(formatJob(job));
  return exitCodeForJob(job);
}

/** A line on stderr before each retry of a submission or a watch's create (none with --quiet). */
export function tellRetry(io: Io, quiet: boolean): RetryOptions["onWait"] {
  return ({ err, delayMs, attempt }) => {
    if (!quiet) io.stderr.write(`the gateway answered ${err.status} ${err.code} (${err.message}): sending again in ${delayMs / 1000} s (attempt ${attempt + 1})\n`);
  };
}

/**
 * The gateway verified in-process (its queue is down) and answered the verdict at once: there
 * is no job to follow. Printed like a finished job, exit code from the verdict.
 */
function printSyncVerdict(cmd: VerifyCommand, io: Io, accepted: Accepted): number {
  const job = {
    id: accepted.jobId ?? null,
    type: cmd.proof ? "proof" : "verify",
    status: "completed",
    progress: 100,
    contentHash: accepted.result?.fileHash ?? null,
    manifestUri: cmd.manifestUri,
    registryAddress: cmd.registry,
    result: accepted.result!,
    error: null,
    failure: null,
    retryCount: 0,
    createdAt: new Date().toISOString(),
    completedAt: new Date().toISOString(),
    mode: "sync",
    fallback: accepted.fallback === true,
  } as Job & { mode: string; fallback: boolean };
  if (!cmd.common.quiet && accepted.fallback) io.stderr.write("the gateway's queue is down: it verified in-process (fallback), no job was created\n");
  if (cmd.common.json) printJson(io, job);
  else io.stdout.write(formatJob({ ...job, id: job.id ?? "(none: verified in-process)" }));
  return exitCodeForJob(job);
}

export async function followWithProgress(io: Io, api: ReturnType<typeof createApiClient>, jobId: string, timeoutMs: number, quiet: boolean) {
  const progress = createProgressReporter(io.stderr, jobId, { enabled: !quiet });
  try {
    const { job } = await followJob(api, jobId, { timeoutMs, signal: io.signal, onUpdate: (j) => progress.update(j), onFollow: (via) => progress.following(via) });
    return job;
  } finally {
    progress.done();
  }
}

async function checkFile(file: string): Promise<void> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!info.isFile()) throw new UsageError(`${file} is not a file`);
}
