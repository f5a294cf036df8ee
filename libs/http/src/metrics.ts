import { Counter, Histogram } from "prom-client";
import { registerMetrics } from "@veriflow/platform";

export const httpRequests = new Counter({
  name: "veriflow_http_requests_total",
  help: "HTTP requests answered, by service, route and status.",
  labelNames: ["service", "route", "status"] as const,
  registers: [],
});

export const httpSeconds = new Histogram({
  name: "veriflow_http_request_seconds",
  help: "HTTP request latency by service and route.",
  labelNames: ["service", "route"] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [],
});

/**
 * gRPC calls (libs/grpc counts them: it has no registry of its own to declare). Labels are
 * bounded: `service` and `method` name a method the server registered (grpc-js answers an
 * unknown one itself, uncounted), `code` is a gRPC status name. Health and reflection are
 * not counted. A streaming call's time is its whole life (a watch may last hours).
 */
export const grpcRequests = new Counter({
  name: "veriflow_grpc_requests_total",
  help: "gRPC calls answered, by service, method and status code (OK, INVALID_ARGUMENT, UNAVAILABLE, CANCELLED, ...).",
  labelNames: ["service", "method", "code"] as const,
  registers: [],
});

export const grpcSeconds = new Histogram({
  name: "veriflow_grpc_request_seconds",
  help: "gRPC call latency by service and method; for a streaming call, from its start to its end.",
  labelNames: ["service", "method"] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [],
});

/** Called by createRpc: a process that serves gRPC reports these. */
export function registerGrpcMetrics(): void {
  registerMetrics(grpcRequests, grpcSeconds);
}

/** Called by httpMetrics() when an app mounts it: a process that serves HTTP reports these. */
export function registerHttpMetrics(): void {
  registerMetrics(httpRequests, httpSeconds);
}
