/**
 * Two families of errors:
 * - inside the pipeline, PermanentError (dead-letter at once) versus anything else (retry);
 * - at the edges (HTTP, gRPC), HttpError with a stable E_* code, a status and an `expose` flag.
 */

/** A failure no retry can fix: bad input, a document that will never parse. */
export class PermanentError extends Error {
  override name = "PermanentError";
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A failure worth retrying: network, timeouts, 5xx. The code names it in the failed event. */
export class TransientError extends Error {
  override name = "TransientError";
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isPermanent(err: unknown): err is PermanentError {
  return err instanceof PermanentError;
}

/** The E_* code of any error, for failed events and logs. */
export function errorCode(err: unknown): string {
  if (err instanceof PermanentError || err instanceof TransientError || err instanceof HttpError) return err.code;
  return "E_INTERNAL";
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error answered at an edge. `expose` says whether its message may reach the client. */
export class HttpError extends Error {
  override name = "HttpError";
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly details?: unknown;
  constructor(status: number, code: string, message: string, options?: { cause?: unknown; expose?: boolean; details?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.expose = options?.expose ?? status < 500;
    this.details = options?.details;
  }
}

export const badRequest = (code: string, message: string, details?: unknown) =>
  new HttpError(400, code, message, { details });
export const notFound = (code: string, message: string) => new HttpError(404, code, message);
