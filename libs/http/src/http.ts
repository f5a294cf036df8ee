import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Middleware } from "koa";
import { HttpError, errorCatalog, type ErrorCode } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import { httpRequests, httpSeconds, registerHttpMetrics } from "./metrics.js";

/** What every edge response's error body looks like. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
  requestId: string | undefined;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Gives every request an id: the caller's `x-request-id` when it looks sane, else a
 * new uuid. Stored in `ctx.state.requestId` and echoed as a response header.
 */
export function requestId(): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get("x-request-id");
    const id = SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    ctx.set("x-request-id", id);
    await next();
  };
}

/**
 * Records `veriflow_http_requests_total` and `veriflow_http_request_seconds` per matched
 * route pattern (never the raw path: job ids would explode the label set). Mount it
 * first, so it sees the status the error handler chose.
 */
export function httpMetrics(service: string): Middleware {
  registerHttpMetrics();
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      const route = typeof matched === "string" ? `${ctx.method} ${matched}` : "unmatched";
      httpRequests.inc({ service, route, status: String(ctx.status) });
      httpSeconds.observe({ service, route }, Number(process.hrtime.bigint() - start) / 1e9);
    }
  };
}

/** The codes answered for a bare status that Koa, routers and body parsers raise; their statuses come from the catalog. */
const STATUS_CODES_FOR = [
  "E_BAD_REQUEST",
  "E_UNAUTHORIZED",
  "E_FORBIDDEN",
  "E_NOT_FOUND",
  "E_METHOD_NOT_ALLOWED",
  "E_NOT_ACCEPTABLE",
  "E_REQUEST_TIMEOUT",
  "E_CONFLICT",
  "E_LENGTH_REQUIRED",
  "E_PAYLOAD_TOO_LARGE",
  "E_URI_TOO_LONG",
  "E_UNSUPPORTED_MEDIA_TYPE",
  "E_UNPROCESSABLE",
  "E_TOO_MANY_REQUESTS",
  "E_NOT_IMPLEMENTED",
  "E_UNAVAILABLE",
] as const satisfies readonly ErrorCode[];
const CODE_BY_STATUS = new Map<number, ErrorCode>(STATUS_CODES_FOR.map((code) => [errorCatalog[code].http, code]));

function codeForStatus(status: number): ErrorCode {
  return CODE_BY_STATUS.get(status) ?? (status < 500 ? "E_BAD_REQUEST" : "E_INTERNAL");
}

/** A bound of ours reached: answered (with `Retry-After`) by design, not a fault to log as an error. */
const BOUND_REACHED = new Set<ErrorCode>(["E_STORAGE_FULL", "E_QUEUE_BACKLOG", "E_FALLBACK_BUSY", "E_TOO_MANY_WATCHES", "E_WATCH_TOO_SLOW"]);

interface Rendered {
  status: number;
  body: ErrorBody["error"];
  /** Seconds for the `Retry-After` header (gRPC: the `retry-after` trailer). */
  retryAfterSeconds?: number;
  /** A server-side failure that deserves an error log. */
  internal: boolean;
}

type Loose = Error & { status?: unknown; statusCode?: unknown; expose?: unknown; code?: unknown };

/** Maps anything thrown to a status and a body a client may see. */
export function renderError(err: unknown): Rendered {
  if (err instanceof HttpError) {
    const body: Rendered["body"] = {
      code: err.code,
      message: err.expose ? err.message : (STATUS_CODES[err.status] ?? "Error"),
    };
    if (err.expose && err.details !== undefined) body.details = err.details;
    const internal = err.status >= 500 && !BOUND_REACHED.has(err.code);
    return { status: err.status, body, internal, ...(err.retryAfterSeconds !== undefined ? { retryAfterSeconds: err.retryAfterSeconds } : {}) };
  }
  const e = (err ?? {}) as Loose;
  // multer / busboy limits carry a code, not a status.
  if (e.name === "MulterError" && typeof e.code === "string") {
    const status = e.code === "LIMIT_FILE_SIZE" ? 413 : 400;
    return { status, body: { code: codeForStatus(status), message: e.message }, internal: false };
  }
  const status = typeof e.status === "number" ? e.status : typeof e.statusCode === "number" ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // http-errors (ctx.throw, koa-body, raw-body) mark 4xx messages as safe to expose.
    const message = e.expose !== false && typeof e.message === "string" && e.message ? e.message : STATUS_CODES[status]!;
    return { status, body: { code: codeForStatus(status), message }, internal: false };
  }
  // Anything else is ours: a generic message, never the error's own (it may hold secrets).
  const serverStatus = status > 500 && status < 600 ? status : 500;
  const message = serverStatus === 500 ? "internal server error" : STATUS_CODES[serverStatus]!;
  return { status: serverStatus, body: { code: codeForStatus(serverStatus), message }, internal: true };
}

/**
 * Renders every error as `{ error: { code, message, details? }, requestId }`, and a
 * response nobody answered (unknown route, 405 from allowedMethods) the same way.
 * Mount it right after `requestId()`.
 */
export function errorHandler(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body == null && ctx.status >= 400 && ctx.method !== "HEAD") {
        const status = ctx.status;
        const allow = ctx.response.get("allow");
        const message =
          status === 404
            ? `no route for ${ctx.method} ${ctx.path}`
            : status === 405 && allow !== ""
              ? `${ctx.path} does not take ${ctx.method}; it takes ${allow}`
              : (STATUS_CODES[status] ?? "error");
        ctx.status = status;
        ctx.body = { error: { code: codeForStatus(status), message }, requestId: ctx.state.requestId } satisfies ErrorBody;
      }
    } catch (err) {
      const r = renderError(err);
      const fields = { err, requestId: ctx.state.requestId, traceId: ctx.state.traceId, method: ctx.method, path: ctx.path, status: r.status };
      if (r.internal) log.error(fields, "request failed");
      else log.debug(fields, "request rejected");
      if (ctx.headerSent || !ctx.writable) return;
      ctx.status = r.status;
      ctx.body = { error: r.body, requestId: ctx.state.requestId } satisfies ErrorBody;
      if (r.retryAfterSeconds !== undefined) ctx.set("retry-after", String(r.retryAfterSeconds));

    }
  };
}
