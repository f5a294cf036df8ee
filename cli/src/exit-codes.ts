import { ApiError, InterruptedError, UnreachableError, UsageError, WaitTimeoutError } from "./errors.js";
import { isTerminal as isTerminalStatus } from "@veriflow/events";
import type { Job } from "./api.js";

/**
 * The documented exit codes (also in `veriflow --help` and docs/readme/cli.md). A script can
 * tell "not authentic" (1) from "could not find out" (4, 5, 6).
 */
export const EXIT = {
  /** Done; for a verdict: OK. */
  OK: 0,
  /** Verdict FAIL (not registered, revoked, hash/creator mismatch, bad signature). */
  FAIL: 1,
  /** Usage error: unknown option, missing argument, unreadable file, bad key. */
  USAGE: 2,
  /** Verdict WARN (uri_mismatch, did_mismatch). */
  WARN: 3,
  /** The job failed: a stage could not do its work (job.failure has stage and code). */
  JOB_FAILED: 4,
  /** Server, chain or dev manifest server unreachable, or an HTTP error answer (4xx/5xx). */
  UNREACHABLE: 5,
  /** --timeout passed while waiting; the job goes on. */
  TIMEOUT: 6,
  /** A bug in the CLI. */
  INTERNAL: 70,
  /** Interrupted (Ctrl-C) while waiting; the job goes on. */
  INTERRUPTED: 130,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0    OK verdict (or the command succeeded)
  1    FAIL verdict
  2    usage error (bad option or argument, unreadable file)
  3    WARN verdict
  4    the job failed: a stage could not do its work (see failure.stage, failure.code);
       also a 422/502 E_* answer of the gateway's in-process fallback
  5    server, chain or dev manifest server unreachable, or an HTTP error answer
  6    --timeout passed while waiting (the job goes on)
  70   internal error (a bug in the CLI)
  130  interrupted while waiting (the job goes on)`;

export const isTerminal = (job: Pick<Job, "status">): boolean => isTerminalStatus(job.status);

/** The exit code a finished job stands for: its verdict, or 4 for a failed job. */
export function exitCodeForJob(job: Pick<Job, "status" | "result">): number {
  if (job.status === "failed") return EXIT.JOB_FAILED;
  if (job.status !== "completed") throw new Error(`job is not finished (${job.status})`);
  switch ((job.result as { status?: string } | null)?.status) {
    case "OK":
      return EXIT.OK;
    case "WARN":
      return EXIT.WARN;
    case "FAIL":
      return EXIT.FAIL;
    default:
      throw new Error(`completed job without a verdict: ${JSON.stringify(job.result)}`);
  }
}

/**
 * A verification answered synchronously that failed at a stage: the gateway's in-process
 * fallback maps a stage failure to 422 (the submission can't be verified as sent) or 502 (an
 * upstream did not answer) with the stage's E_* code; the same failure of a queued job exits 4.
 * A 502 without an E_* body (a proxy's) is the server being unreachable.
 */
function isStageFailureAnswer(err: ApiError): boolean {
  return (err.status === 422 || err.status === 502) && /^E_[A-Z0-9_]+$/.test(err.code);
}

export function exitCodeForError(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof ApiError && isStageFailureAnswer(err)) return EXIT.JOB_FAILED;
  if (err instanceof ApiError || err instanceof UnreachableError) return EXIT.UNREACHABLE;
  if (err instanceof WaitTimeoutError) return EXIT.TIMEOUT;
  if (err instanceof InterruptedError) return EXIT.INTERRUPTED;
  return EXIT.INTERNAL;
}
