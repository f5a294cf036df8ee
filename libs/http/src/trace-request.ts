import type { Context as KoaContext, Middleware } from "koa";
import { type Logger, type LogFields, withLogFields } from "@veriflow/platform";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TRACING_OFF, context, extractTraceContext, failSpan, startEntrySpan, traceparentOf, type Context, type Tracing } from "@veriflow/tracing";

/** Paths probes and scrapers poll: their access lines are debug, so polling does not flood the log. */
const POLLED_PATHS = new Set(["/healthz", "/readyz", "/livez", "/metrics"]);

/**
 * Per request: its trace (the client's `traceparent`/`tracestate`, or a new one), a server
 * span, `traceparent` echoed on the response, the request's log fields (requestId, then
 * jobId once a route or a submission knows it, tenant) on every line logged while it is
 * handled, and one access log line when the response is done. Mount it right after `requestId()`.
 */
export function traceRequests(log: Logger, tracing: Tracing = TRACING_OFF): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const fields: LogFields = { requestId: ctx.state.requestId as string | undefined };
    const parent = withLogFields(
      extractTraceContext((name) => ctx.get(name) || undefined),
      fields,
    );
    const { span, ctx: traced } = startEntrySpan(tracing, ctx.method, { kind: SpanKind.SERVER, attributes: { "http.request.method": ctx.method, "url.path": ctx.path } }, parent);
    fields.traceId = span.spanContext().traceId;
    ctx.state.traceContext = traced;
    ctx.state.traceId = fields.traceId;
    const traceparent = traceparentOf(traced);
    if (traceparent) ctx.set("traceparent", traceparent);
    ctx.res.once("close", () => {
      const route = matchedRoute(ctx);
      const status = ctx.res.statusCode;
      if (route) span.updateName(`${ctx.method} ${route}`);
      span.setAttribute("http.response.status_code", status);
      if (route) span.setAttribute("http.route", route);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      const line = {
        method: ctx.method,
        route: route ?? null,
        path: route ? undefined : ctx.path,
        status,
        ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
        bytes: bytesOf(ctx),
        requestId: fields.requestId,
        traceId: fields.traceId,
        jobId: fields.jobId ?? paramJobId(ctx),
        tenant: fields.tenant ?? (ctx.state.principal as { tenant?: string } | undefined)?.tenant,
        aborted: ctx.res.writableFinished ? undefined : true,
      };
      // Outside the request's context: its fields are in the line already.
      context.with(ROOT_CONTEXT, () => (POLLED_PATHS.has(ctx.path) ? log.debug(line, "request") : log.info(line, "request")));
    });
    try {
      await context.with(traced, next);
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  };
}

/** The request's trace (its server span's context), for what it publishes or forwards while tracing is off (no context manager then). */
export function traceContextOf(ctx: Pick<KoaContext, "state">): Context {
  return (ctx.state.traceContext as Context | undefined) ?? context.active();
}

function matchedRoute(ctx: KoaContext): string | undefined {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === "string" ? matched : undefined;
}

function paramJobId(ctx: KoaContext): string | undefined {
  const id = (ctx as { params?: Record<string, unknown> }).params?.jobId ?? ctx.state.jobId;
  return typeof id === "string" ? id : undefined;
}

function bytesOf(ctx: KoaContext): number | undefined {
  const length = Number(ctx.res.getHeader("content-length"));
  return Number.isSafeInteger(length) ? length : undefined;
}
