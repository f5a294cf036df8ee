import { describe, expect, it } from "vitest";
import { EnvReader, type Env } from "./config.js";
import { readTracingConfig } from "./tracing-config.js";

const read = (env: Env) => {
  const r = new EnvReader(env);
  const config = readTracingConfig(r);
  return { config, problems: r.problems };
};

describe("readTracingConfig", () => {
  it("is off by default, with the standard defaults", () => {
    const { config, problems } = read({});
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ export: false, serviceName: null, url: "http://localhost:4318/v1/traces", sampler: "parentbased_always_on", samplerRatio: 1 });
  });

  it("is on with OTEL_TRACES_EXPORTER=otlp, or with an endpoint", () => {
    expect(read({ OTEL_TRACES_EXPORTER: "otlp" }).config.export).toBe(true);
    expect(read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).config).toMatchObject({ export: true, url: "http://collector:4318/v1/traces" });
    expect(read({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/custom" }).config).toMatchObject({ export: true, url: "http://c:4318/custom" });
  });

  it("is off with OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED, endpoint or not", () => {
    expect(read({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }).config.export).toBe(false);
    expect(read({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }).config.export).toBe(false);
  });

  it("reads the sampler, headers, service name and resource attributes", () => {
    const { config, problems } = read({
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_SERVICE_NAME: "vf",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_EXPORTER_OTLP_HEADERS: "api-key=a%20b,x=1",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod",
    });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ serviceName: "vf", sampler: "parentbased_traceidratio", samplerRatio: 0.25, headers: { "api-key": "a b", x: "1" }, resourceAttributes: { "deployment.environment": "prod" } });
  });

  it("reports every bad value", () => {
    const { problems } = read({ OTEL_TRACES_EXPORTER: "jaeger", OTEL_TRACES_SAMPLER: "sometimes", OTEL_TRACES_SAMPLER_ARG: "2", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_HEADERS: "novalue" });
    expect(problems).toHaveLength(5);
  });
});
