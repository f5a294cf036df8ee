import { ROOT_CONTEXT, TraceFlags, context, trace, type Context, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { RandomIdGenerator } from "@opentelemetry/sdk-trace";

/**
 * W3C trace context (`traceparent`, `tracestate`) read from and written to any carrier
 * through a getter or setter: HTTP headers, gRPC metadata, NATS message headers. A
 * malformed traceparent is ignored (as the W3C spec asks): the work starts a trace of its own.
 */
const propagator = new W3CTraceContextPropagator();
export const TRACE_HEADERS = propagator.fields() as readonly string[];

type Get = (name: string) => string | undefined;
type Set = (name: string, value: string) => void;

const getter: TextMapGetter<Get> = { get: (get, key) => get(key), keys: () => [...TRACE_HEADERS] };
const setter: TextMapSetter<Set> = { set: (set, key, value) => set(key, value) };

/** The trace context a carrier holds (ROOT_CONTEXT when none, or none that parses). */
export function extractTraceContext(get: Get, parent: Context = ROOT_CONTEXT): Context {
  return propagator.extract(parent, get, getter);
}

/** Writes the trace context of `ctx` (nothing when it has none). */
export function injectTraceContext(ctx: Context, set: Set): void {
  propagator.inject(ctx, set, setter);
}

/** The `traceparent` of `ctx`, or undefined when it holds no trace. */
export function traceparentOf(ctx: Context): string | undefined {
  let value: string | undefined;
  injectTraceContext(ctx, (name, v) => {
    if (name === "traceparent") value = v;
  });
  return value;
}

const ids = new RandomIdGenerator();

/**
 * `parent` with a new trace of its own (random trace and span ids, not sampled): what work that
 * arrives with no trace gets while spans are not recorded, so its events and logs still
 * share one trace id. Costs two random ids.
 */
export function withNewTrace(parent: Context): Context {
  return trace.setSpanContext(parent, { traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE });
}

/** The trace headers of `ctx` (the active context) as an object, for an outgoing HTTP request. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const out: Record<string, string> = {};
  injectTraceContext(ctx, (name, value) => (out[name] = value));
  return out;
}
