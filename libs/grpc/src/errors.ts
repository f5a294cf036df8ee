import * as grpc from "@grpc/grpc-js";
import { HttpError, errorCatalog, type CodeWhere, type GrpcStatusName } from "@veriflow/errors";
import { renderError } from "@veriflow/http";

/** The catalog's gRPC status names as grpc-js values (fails to compile if a name is not a grpc.status). */
const GRPC_STATUS: Record<GrpcStatusName, grpc.status> = grpc.status;

/** Trailing metadata key holding the stable E_* code (the REST body's `error.code`). */
export const ERROR_CODE_KEY = "x-error-code";
/** Trailing metadata key holding the seconds to wait before calling again (the REST `Retry-After`). */
export const RETRY_AFTER_KEY = "retry-after";

export interface RenderedGrpcError {
  status: grpc.StatusObject;
  /** A server-side failure that deserves an error log. */
  internal: boolean;
}

/**
 * Maps anything thrown to a gRPC status: an HttpError keeps its E_* code (in the
 * `x-error-code` trailer), its exposed message and the catalog's gRPC status for the code;
 * anything else is INTERNAL with a generic message, like a 500 at the REST edge.
 */
export function toGrpcStatus(err: unknown): RenderedGrpcError {
  const rendered = renderError(err);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, rendered.body.code);
  if (rendered.retryAfterSeconds !== undefined) {
    metadata.set(RETRY_AFTER_KEY, String(rendered.retryAfterSeconds));
    // gRPC's own retry pushback (A6), which a client's retry policy honours.
    metadata.set("grpc-retry-pushback-ms", String(rendered.retryAfterSeconds * 1000));
  }
  const code = GRPC_STATUS[errorCatalog[rendered.body.code].grpc];
  return { status: { code, details: rendered.body.message, metadata }, internal: rendered.internal };
}

/** The error a handler throws for a bad request field: only codes the catalog answers with INVALID_ARGUMENT. */
export const invalidArgument = (code: CodeWhere<"grpc", "INVALID_ARGUMENT">, message: string) => new HttpError(code, message);
