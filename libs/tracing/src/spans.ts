import { SpanKind, SpanStatusCode, context, createContextKey, trace, type Attributes, type Context, type Link, type Span } from "@opentelemetry/api";
import { TRACING_OFF, type Tracing } from "./start-tracing.js";
import { withNewTrace } from "./trace-context.js";

export { SpanKind };

/** The tracing of the service whose work runs in a context: nested spans (a fetch, a call) use it. */
const TRACING = createContextKey("veriflow tracing");

export function tracingOf(ctx: Context = context.active()): Tracing {
  return (ctx.getValue(TRACING) as Tracing | undefined) ?? TRACING_OFF;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  startTime?: Date;
}

/** Marks a span failed with the error's name and message (never its stack or cause). */
export function failSpan(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof e?.message === "string" ? e.message.slice(0, 256) : String(err) });
  if (typeof e?.code === "string") span.setAttribute("error.type", e.code);
  else if (typeof e?.name === "string") span.setAttribute("error.type", e.name);
}

/**
 * Starts the span of work that enters a service (a request, a call, a message) under
 * `parent`: the trace it came with, or else a new one, even when spans are not recorded.
 * The returned context carries the span and the service's tracing, for nested spans.
 */
export function startEntrySpan(tracing: Tracing, name: string, options: SpanOptions, parent: Context): { span: Span; ctx: Context } {
  const withTracing = parent.setValue(TRACING, tracing);
  if (!tracing.recording) {
    // The no-op tracer would hand back the parent's span context, or none at all: keep the parent's trace, or start one.
    const ctx = trace.getSpanContext(parent) ? withTracing : withNewTrace(withTracing);
    return { span: trace.getSpan(ctx)!, ctx };
  }
  const span = tracing.tracer.startSpan(name, options, withTracing);
  return { span, ctx: trace.setSpan(withTracing, span) };
}

/** Runs `fn` in an entry span (startEntrySpan), ended when `fn` settles, failed when it throws. */
export async function runEntrySpan<T>(tracing: Tracing, name: string, options: SpanOptions, parent: Context, fn: (span: Span, ctx: Context) => Promise<T>): Promise<T> {
  const { span, ctx } = startEntrySpan(tracing, name, options, parent);
  return settleSpan(span, context.with(ctx, () => fn(span, ctx)));
}

/**
 * Runs `fn` in a child span of the active one, with the active service's tracer: a manifest
 * fetch, a JSON-RPC call. When spans are not recorded it is `fn()`, nothing more.
 */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  const active = context.active();
  const tracing = tracingOf(active);
  if (!tracing.recording) return fn(undefined);
  const span = tracing.tracer.startSpan(name, { kind: SpanKind.CLIENT, ...options }, active);
  return settleSpan(span, context.with(trace.setSpan(active, span), () => fn(span)));
}

async function settleSpan<T>(span: Span, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}
