import { describe, expect, it } from "vitest";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { extractTraceContext, traceHeaders, traceparentOf, withNewTrace } from "./trace-context.js";
import { startEntrySpan } from "./spans.js";
import { TRACING_OFF } from "./start-tracing.js";

const VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const from = (headers: Record<string, string>) => extractTraceContext((name) => headers[name]);

describe("trace context headers", () => {
  it("reads a valid traceparent and tracestate", () => {
    const ctx = from({ traceparent: VALID, tracestate: "vendor=abc" });
    const sc = trace.getSpanContext(ctx)!;
    expect(sc.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(sc.spanId).toBe("00f067aa0ba902b7");
    expect(sc.traceFlags).toBe(1);
    expect(sc.isRemote).toBe(true);
    expect(traceHeaders(ctx)).toEqual({ traceparent: VALID, tracestate: "vendor=abc" });
  });

  it.each([
    ["empty", ""],
    ["garbage", "not a traceparent"],
    ["all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["all-zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
    ["version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    ["short trace id", "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01"],
    ["upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"],
    ["two values joined", `${VALID}, ${VALID}`],
    ["control characters", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u0000\n"],
    ["a megabyte", "0".repeat(1024 * 1024)],
  ])("ignores a malformed traceparent (%s)", (_name, value) => {
    const ctx = from({ traceparent: value, tracestate: "x=y" });
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    expect(traceHeaders(ctx)).toEqual({});
  });

  it("writes nothing for a context without a trace", () => {
    expect(traceparentOf(ROOT_CONTEXT)).toBeUndefined();
  });

  it("starts a new trace of random ids when none came in", () => {
    const a = trace.getSpanContext(withNewTrace(ROOT_CONTEXT))!;
    const b = trace.getSpanContext(withNewTrace(ROOT_CONTEXT))!;
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(a.traceId).not.toBe(b.traceId);
    expect(a.traceFlags).toBe(0);
  });

  it("off, an entry span keeps the incoming trace, or starts one", () => {
    const kept = startEntrySpan(TRACING_OFF, "x", {}, from({ traceparent: VALID }));
    expect(traceparentOf(kept.ctx)).toBe(VALID);
    expect(kept.span.isRecording()).toBe(false);
    const started = startEntrySpan(TRACING_OFF, "x", {}, from({ traceparent: "junk" }));
    expect(traceparentOf(started.ctx)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });
});
