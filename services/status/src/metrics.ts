import { Gauge, Histogram } from "prom-client";
import { PIPELINE_SECONDS_BUCKETS } from "@veriflow/nats";
import { registerMetrics } from "@veriflow/platform";

export const watchStreams = new Gauge({
  name: "veriflow_watch_streams",
  help: "Open job watches (SSE and gRPC streams) on this process, by kind (job, terminal).",
  labelNames: ["kind"] as const,
  registers: [],
});

export const jobSeconds = new Histogram({
  name: "veriflow_job_duration_seconds",
  help: "From a job run's start (its submission, or its retry) to its terminal event, by job type (verify, proof) and outcome (completed, failed); observed once per run as the status projection records it.",
  labelNames: ["type", "outcome"] as const,
  buckets: PIPELINE_SECONDS_BUCKETS.filter((b) => b >= 0.05),
  registers: [],
});

/** Called from the status composition root. */
export function registerStatusMetrics(): void {
  registerMetrics(watchStreams, jobSeconds);
}
