import { describe, expect, it } from "vitest";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { createSilentLogger, type TracingConfig } from "@veriflow/platform";
import { runEntrySpan, inSpan } from "./spans.js";
import { TRACING_OFF, startTracing } from "./start-tracing.js";
import { extractTraceContext, traceparentOf } from "./trace-context.js";

const config = (over: Partial<TracingConfig> = {}): TracingConfig => ({
  export: true,
  serviceName: null,
  url: "http://127.0.0.1:1/v1/traces",
  headers: {},
  sampler: "parentbased_always_on",
  samplerRatio: 1,
  resourceAttributes: {},
  ...over,
});
const log = createSilentLogger();

/** Keeps what it is given past shutdown (the SDK's InMemorySpanExporter forgets it then). */
function collectingExporter(): SpanExporter & { getFinishedSpans(): ReadableSpan[] } {
  const spans: ReadableSpan[] = [];
  return {
    export: (batch, done) => {
      spans.push(...batch);
      done({ code: 0 });
    },
    shutdown: async () => {},
    getFinishedSpans: () => spans,
  };
}

describe("startTracing", () => {
  it("off: no provider, no exporter, the no-op tracer", async () => {
    const tracing = startTracing(config({ export: false }), "hashing", log);
    expect(tracing).toBe(TRACING_OFF);
    expect(tracing.recording).toBe(false);
    await tracing.stop();
  });

  it("on: spans of the service, nested under the entry span, exported on stop", async () => {
    const exporter = collectingExporter();
    const tracing = startTracing(config(), "hashing", log, exporter);
    const parent = extractTraceContext((n) => (n === "traceparent" ? "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" : undefined));
    await runEntrySpan(tracing, "work", {}, parent, () => inSpan("child", {}, async () => {}));
    await expect(runEntrySpan(tracing, "failing", {}, ROOT_CONTEXT, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await tracing.stop();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(["child", "failing", "work"]);
    const work = spans.find((s) => s.name === "work")!;
    const child = spans.find((s) => s.name === "child")!;
    expect(work.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(work.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(child.parentSpanContext?.spanId).toBe(work.spanContext().spanId);
    expect(work.resource.attributes["service.name"]).toBe("veriflow-hashing");
    expect(spans.find((s) => s.name === "failing")!.status).toMatchObject({ code: 2, message: "boom" });
  });

  it("a parent's decision not to sample is kept, and its trace still carried", async () => {
    const exporter = collectingExporter();
    const tracing = startTracing(config(), "manifest", log, exporter);
    const parent = extractTraceContext((n) => (n === "traceparent" ? "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00" : undefined));
    const carried = await runEntrySpan(tracing, "work", {}, parent, async (_span, ctx) => traceparentOf(ctx));
    await tracing.stop();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(carried).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
  });
});
