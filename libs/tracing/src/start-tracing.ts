import { context, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { Logger, TracingConfig } from "@veriflow/platform";

/** What a service traces with: its tracer, whether spans are recorded, and the flush on stop. */
export interface Tracing {
  tracer: Tracer;
  /** False when tracing is off: spans are not recorded, but trace context is still carried. */
  recording: boolean;
  /** Exports what is still buffered, then shuts the provider down (a no-op when off). */
  stop(): Promise<void>;
}

/**
 * Off: the API's no-op tracer (nothing recorded, nothing allocated beyond the span context
 * it carries) and no exporter. Every service has one of these until it starts its own.
 */
export const TRACING_OFF: Tracing = { tracer: trace.getTracer("veriflow"), recording: false, stop: async () => {} };

let contextManagerSet = false;

/**
 * The process-wide AsyncLocalStorage context manager, registered once tracing is on: it
 * carries a request's or a job's trace (and log fields) across awaits, for nested spans and
 * log lines. Not while off: on Node 20 an active AsyncLocalStorage hooks every promise of the
 * process (measured: about a fifth more CPU per consumed event); off, the trace context is
 * handed on explicitly where it must go (published events, forwarded requests, log lines).
 */
export function ensureContextManager(): void {
  if (contextManagerSet) return;
  contextManagerSet = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

function samplerOf(config: TracingConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio;
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * Starts a service's tracing: off (TRACING_OFF) unless `config.export`; on, a tracer provider
 * of its own (not the global one: the test system runs every service in one process, each
 * under its own service.name) exporting in batches over OTLP/HTTP. `exporter` replaces the
 * OTLP one (tests). Started by each composition root; its stop() goes last in the shutdown.
 */
export function startTracing(config: TracingConfig, service: string, log: Logger, exporter?: SpanExporter): Tracing {
  if (!config.export) return TRACING_OFF;
  ensureContextManager();
  const serviceName = config.serviceName ?? `veriflow-${service}`;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: serviceName }),
    sampler: samplerOf(config),
    spanProcessors: [new BatchSpanProcessor({ exporter: exporter ?? new OTLPTraceExporter({ url: config.url, headers: config.headers }) })],
  });
  log.info({ serviceName, url: exporter ? "(given exporter)" : config.url, sampler: config.sampler }, "tracing on");
  return {
    tracer: provider.getTracer("veriflow"),
    recording: true,
    stop: () => provider.shutdown().catch((err: unknown) => log.warn({ err }, "could not flush spans")),
  };
}
