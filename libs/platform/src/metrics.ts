import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** One registry per process, with Node's default metrics and the pipeline's own. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

export const messagesHandled = new Counter({
  name: "veriflow_messages_handled_total",
  help: "Pipeline messages handled, by consumer and outcome (ok, retry, failed, dead_letter).",
  labelNames: ["consumer", "outcome"] as const,
  registers: [metricsRegistry],
});

export const handlerSeconds = new Histogram({
  name: "veriflow_handler_seconds",
  help: "Time a consumer's handler took per message (or per batch for batch consumers).",
  labelNames: ["consumer"] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});

export const httpRequests = new Counter({
  name: "veriflow_http_requests_total",
  help: "HTTP requests answered, by service, route and status.",
  labelNames: ["service", "route", "status"] as const,
  registers: [metricsRegistry],
});

export const httpSeconds = new Histogram({
  name: "veriflow_http_request_seconds",
  help: "HTTP request latency by service and route.",
  labelNames: ["service", "route"] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [metricsRegistry],
});

export const watchStreams = new Gauge({
  name: "veriflow_watch_streams",
  help: "Open job watches (SSE and gRPC streams) on this process, by kind (job, terminal).",
  labelNames: ["kind"] as const,
  registers: [metricsRegistry],
});
