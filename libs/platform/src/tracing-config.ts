import type { EnvReader } from "./config.js";

export const SAMPLERS = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/**
 * Tracing from the standard OTEL_* variables. Off unless asked for: OTEL_TRACES_EXPORTER=otlp,
 * or an OTLP endpoint set (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
 * and OTEL_SDK_DISABLED not true. Off, nothing is recorded or exported, but trace context
 * is still carried (traceparent in and out of every event), so logs correlate by traceId.
 */
export interface TracingConfig {
  /** Spans are recorded and exported over OTLP/HTTP. */
  export: boolean;
  /** OTEL_SERVICE_NAME; null: `veriflow-<service>`. */
  serviceName: string | null;
  /** Where spans are sent: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string;
  /** OTEL_EXPORTER_OTLP_HEADERS (and _TRACES_HEADERS): `key=value,…`, e.g. a collector's API key. */
  headers: Record<string, string>;
  sampler: SamplerName;
  /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers, 0..1. */
  samplerRatio: number;
  /** OTEL_RESOURCE_ATTRIBUTES: `key=value,…` added to every span's resource. */
  resourceAttributes: Record<string, string>;
}

const DEFAULT_OTLP_ENDPOINT = "http://localhost:4318";

/** `key=value,key2=value2`, values percent-decoded (the OTel spec's format for headers and resource attributes). */
function readPairs(r: EnvReader, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of r.list(name)) {
    const at = pair.indexOf("=");
    if (at <= 0) {
      r.problems.push(`${name} must be key=value pairs separated by commas`);
      continue;
    }
    let value = pair.slice(at + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // kept as written
    }
    out[pair.slice(0, at).trim()] = value;
  }
  return out;
}

export function readTracingConfig(r: EnvReader): TracingConfig {
  const disabled = r.bool("OTEL_SDK_DISABLED", false);
  const exporter = r.oneOf("OTEL_TRACES_EXPORTER", ["otlp", "none"] as const, "none");
  const tracesEndpoint = r.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const endpoint = r.url("OTEL_EXPORTER_OTLP_ENDPOINT");
  // The exporter speaks OTLP/HTTP (JSON bodies, which every collector's :4318 accepts); gRPC it does not.
  r.oneOf("OTEL_EXPORTER_OTLP_PROTOCOL", ["http/json", "http/protobuf"] as const, "http/json");
  const sampler = r.oneOf("OTEL_TRACES_SAMPLER", SAMPLERS, "parentbased_always_on");
  const ratioRaw = r.string("OTEL_TRACES_SAMPLER_ARG");
  const ratio = ratioRaw === undefined ? 1 : Number(ratioRaw);
  if (!(ratio >= 0 && ratio <= 1)) r.problems.push(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${ratioRaw}"`);
  const asked = r.string("OTEL_TRACES_EXPORTER") !== undefined ? exporter === "otlp" : tracesEndpoint !== undefined || endpoint !== undefined;
  return {
    export: asked && !disabled,
    serviceName: r.string("OTEL_SERVICE_NAME") ?? null,
    url: tracesEndpoint ?? `${(endpoint ?? DEFAULT_OTLP_ENDPOINT).replace(/\/+$/, "")}/v1/traces`,
    headers: { ...readPairs(r, "OTEL_EXPORTER_OTLP_HEADERS"), ...readPairs(r, "OTEL_EXPORTER_OTLP_TRACES_HEADERS") },
    sampler,
    samplerRatio: ratio >= 0 && ratio <= 1 ? ratio : 1,
    resourceAttributes: readPairs(r, "OTEL_RESOURCE_ATTRIBUTES"),
  };
}
