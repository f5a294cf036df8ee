import { createApiClient } from "../api.js";
import type { Command } from "../args.js";
import { EXIT, exitCodeForJob } from "../exit-codes.js";
import { followJob } from "../follow.js";
import { formatChange, formatJob, formatJobList } from "../format.js";
import { printJson, type Io } from "../io.js";
import { describeProgress } from "../progress.js";
import { followWithProgress } from "./verify.js";

type JobsCommand = Extract<Command, { kind: "jobs-list" | "jobs-get" | "jobs-watch" | "jobs-retry" }>;

/** `veriflow jobs list | get | watch | retry`. */
export async function runJobs(cmd: JobsCommand, io: Io): Promise<number> {
  const api = createApiClient(cmd.common);
  const { json } = cmd.common;
  switch (cmd.kind) {
    case "jobs-list": {
      const page = await api.listJobs({ status: cmd.status, limit: cmd.limit, offset: cmd.offset });
      if (json) printJson(io, page);
      else io.stdout.write(formatJobList(page));
      return EXIT.OK;
    }
    case "jobs-get": {
      const job = await api.getJob(cmd.id);
      if (json) printJson(io, job);
      else io.stdout.write(formatJob(job));
      return EXIT.OK;
    }
    case "jobs-watch": {
      // One line per change on stdout (--json: one job snapshot per line, the last one terminal).
      const { job } = await followJob(api, cmd.id, {
        timeoutMs: cmd.timeoutMs,
        signal: io.signal,
        onUpdate: (j) => (json ? printJson(io, j) : io.stdout.write(formatChange(j, describeProgress(j)))),
      });
      if (!json) io.stdout.write(formatJob(job));
      return exitCodeForJob(job);
    }
    case "jobs-retry": {
      // A new run of a failed job; with --wait, followed like `verify --wait` and exiting with its verdict.
      const answer = await api.retryJob(cmd.id);
      if (!cmd.wait) {
        if (json) printJson(io, answer);
        else io.stdout.write(`job ${answer.jobId}: run ${answer.run} resumes at the ${answer.stage} stage\n`);
        if (!cmd.common.quiet && !json) io.stderr.write(`follow it with: veriflow jobs watch ${answer.jobId}\n`);
        return EXIT.OK;
      }
      if (!cmd.common.quiet) io.stderr.write(`job ${answer.jobId}: run ${answer.run} resumes at the ${answer.stage} stage\n`);
      const job = await followWithProgress(io, api, answer.jobId, cmd.timeoutMs, cmd.common.quiet);
      if (json) printJson(io, job);
      else io.stdout.write(formatJob(job));
      return exitCodeForJob(job);
    }
  }
}
