/** The CLI's errors; each maps to one documented exit code (exit-codes.ts). */

/** The command line is wrong: unknown option, missing argument, unreadable file. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The server answered an HTTP error: `{ error: { code, message }, requestId }`. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
    /** The answer's `Retry-After` header, as sent (seconds or an HTTP date); null without one. */
    readonly retryAfter: string | null = null,
  ) {
    super(message);
  }
}

/** Nothing answered (connection refused, DNS, reset), or a dev service this command needs is not running. */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}

/** `--timeout` passed while waiting for a job; the job itself goes on. */
export class WaitTimeoutError extends Error {
  override name = "WaitTimeoutError";
  constructor(
    readonly jobId: string,
    readonly lastStatus: string | null,
  ) {
    super(`job ${jobId} is still ${lastStatus ?? "unknown"} after the timeout; it goes on: veriflow jobs watch ${jobId}`);
  }
}

/** Ctrl-C while waiting: for a job, which goes on; or before the gateway accepted the file (jobId null: no job). */
export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor(readonly jobId: string | null) {
    super(jobId === null ? "interrupted before the gateway accepted the file: no job was made" : `interrupted; job ${jobId} goes on: veriflow jobs watch ${jobId}`);
  }
}
