import { readFileSync } from "node:fs";
import { parseCommand } from "./args.js";
import { runDeadLetters } from "./commands/dead-letters.js";
import { runDevPublish } from "./commands/dev-publish.js";
import { runJobs } from "./commands/jobs.js";
import { runKeys } from "./commands/keys.js";
import { runSetup } from "./commands/setup.js";
import { runVerify } from "./commands/verify.js";
import { runVerifyFolder } from "./commands/verify-folder.js";
import { runWatches } from "./commands/watches.js";
import { ApiError, InterruptedError, UsageError, WaitTimeoutError } from "./errors.js";
import { EXIT, exitCodeForError } from "./exit-codes.js";
import { printJson, type Io } from "./io.js";

/** Runs one command line; answers the exit code. Never throws. */
export async function run(argv: string[], io: Io): Promise<number> {
  let json = argv.includes("--json");
  try {
    const cmd = parseCommand(argv, io.env);
    switch (cmd.kind) {
      case "help":
        io.stdout.write(cmd.text);
        return EXIT.OK;
      case "version":
        io.stdout.write(`${version()}\n`);
        return EXIT.OK;
      case "verify":
        json = cmd.common.json;
        return await runVerify(cmd, io);
      case "verify-folder":
        json = cmd.common.json;
        return await runVerifyFolder(cmd, io);
      case "jobs-list":
      case "jobs-get":
      case "jobs-watch":
      case "jobs-retry":
        json = cmd.common.json;
        return await runJobs(cmd, io);
      case "watch":
      case "watches":
      case "unwatch":
        json = cmd.common.json;
        return await runWatches(cmd, io);
      case "dead-letters-list":
      case "dead-letters-show":
      case "dead-letters-replay":
        json = cmd.common.json;
        return await runDeadLetters(cmd, io);
      case "keys-create":
      case "keys-list":
      case "keys-revoke":
        json = cmd.json;
        return await runKeys(cmd, io);
      case "setup":
        json = cmd.json;
        return await runSetup(cmd, io);
      case "dev-publish":
        json = cmd.common.json;
        return await runDevPublish(cmd, io);
    }
  } catch (err) {
    return reportError(err, io, json);
  }
}

/** The error on stderr for a person; with --json also `{ error }` on stdout for a script. */
function reportError(err: unknown, io: Io, json: boolean): number {
  const exitCode = exitCodeForError(err);
  const e = err as Error;
  if (err instanceof ApiError) {
    io.stderr.write(`veriflow: the server answered ${err.status} ${err.code}: ${err.message}${err.requestId ? ` (request ${err.requestId})` : ""}\n`);
  } else if (exitCode === EXIT.INTERNAL) {
    io.stderr.write(`veriflow: internal error (please report it): ${e?.stack ?? String(err)}\n`);
  } else {
    io.stderr.write(`veriflow: ${e.message}${err instanceof UsageError ? "\n(veriflow --help for usage)" : ""}\n`);
  }
  if (json) {
    const error: Record<string, unknown> = { kind: e?.name ?? "Error", message: e?.message ?? String(err), exitCode };
    if (err instanceof ApiError) Object.assign(error, { status: err.status, code: err.code, requestId: err.requestId });
    if (err instanceof WaitTimeoutError) Object.assign(error, { jobId: err.jobId, lastStatus: err.lastStatus });
    if (err instanceof InterruptedError) Object.assign(error, { jobId: err.jobId });
    printJson(io, { error });
  }
  return exitCode;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return `veriflow ${pkg.version}`;
}
