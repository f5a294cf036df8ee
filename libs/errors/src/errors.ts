import { errorCatalog, type CodeWhere, type ErrorCode } from "./catalog.js";

/**
 * Two families of errors:
 * - inside the pipeline, PermanentError (dead-letter at once) versus anything else (retry);
 * - at the edges (HTTP, gRPC), HttpError with a stable E_* code, a status and an `expose` flag.
 * Every code is a key of the catalog (catalog.ts): a code not declared there does not compile.
 */

/** A failure no retry of the same job can fix: bad input, a document that will never parse. */
export class PermanentError extends Error {
  override name = "PermanentError";
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A failure worth retrying: network, timeouts, 5xx. Only codes of kind `transient`. */
export class TransientError extends Error {
  override name = "TransientError";
  readonly code: CodeWhere<"kind", "transient">;
  constructor(code: CodeWhere<"kind", "transient">, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isPermanent(err: unknown): err is PermanentError {
  return err instanceof PermanentError;
}

/** The E_* code of any error, for failed events and logs. */
export function errorCode(err: unknown): ErrorCode {
  if (err instanceof PermanentError || err instanceof TransientError || err instanceof HttpError) return err.code;
  return "E_INTERNAL";
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface HttpErrorOptions {
  cause?: unknown;
  /** Whether the message may reach the client; by default for a status below 500. */
  expose?: boolean;
  details?: unknown;
  /** Response headers that go with the answer (as http-errors' `headers`), e.g. `retry-after`. */
  headers?: Record<string, string>;
}

/**
 * An error answered at an edge. Its HTTP status is the catalog's for its code (one source
 * of truth); `expose` says whether its message may reach the client.
 */
export class HttpError extends Error {
  override name = "HttpError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;
  constructor(code: ErrorCode, message: string, options?: HttpErrorOptions) {
    super(message, options);
    this.code = code;
    this.status = errorCatalog[code].http;
    this.expose = options?.expose ?? this.status < 500;
    this.details = options?.details;
    if (options?.headers) this.headers = options.headers;
  }
}

/** A 400 for a bad request field: only codes the catalog answers with 400. */
export const badRequest = (code: CodeWhere<"http", 400>, message: string, details?: unknown) =>
  new HttpError(code, message, { details });
/** A 404: only codes the catalog answers with 404. */
export const notFound = (code: CodeWhere<"http", 404>, message: string) => new HttpError(code, message);
