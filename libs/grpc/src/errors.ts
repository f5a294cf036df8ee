import * as grpc from "@grpc/grpc-js";
import { HttpError } from "@veriflow/errors";
import { renderError } from "@veriflow/http";

/** The gRPC status for each HTTP status an edge error may carry. */
const CODE_BY_HTTP_STATUS: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  408: grpc.status.DEADLINE_EXCEEDED,
  409: grpc.status.ALREADY_EXISTS,
  412: grpc.status.FAILED_PRECONDITION,
  413: grpc.status.RESOURCE_EXHAUSTED,
  415: grpc.status.INVALID_ARGUMENT,
  422: grpc.status.INVALID_ARGUMENT,
  429: grpc.status.RESOURCE_EXHAUSTED,
  501: grpc.status.UNIMPLEMENTED,
  503: grpc.status.UNAVAILABLE,
  504: grpc.status.DEADLINE_EXCEEDED,
};

/** Trailing metadata key holding the stable E_* code (the REST body's `error.code`). */
export const ERROR_CODE_KEY = "x-error-code";

export interface RenderedGrpcError {
  status: grpc.StatusObject;
  /** A server-side failure that deserves an error log. */
  internal: boolean;
}

/**
 * Maps anything thrown to a gRPC status: an HttpError keeps its E_* code (in the
 * `x-error-code` trailer) and its exposed message; anything else is INTERNAL with a
 * generic message, like a 500 at the REST edge.
 */
export function toGrpcStatus(err: unknown): RenderedGrpcError {
  const rendered = renderError(err);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, rendered.body.code);
  const code = CODE_BY_HTTP_STATUS[rendered.status] ?? (rendered.status < 500 ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL);
  return { status: { code, details: rendered.body.message, metadata }, internal: rendered.internal };
}

/** The error a handler throws for a bad request field. */
export const invalidArgument = (code: string, message: string) => new HttpError(400, code, message);
