import { Gauge } from "prom-client";
import { registerMetrics } from "@veriflow/platform";

export const watchStreams = new Gauge({
  name: "veriflow_watch_streams",
  help: "Open job watches (SSE and gRPC streams) on this process, by kind (job, terminal).",
  labelNames: ["kind"] as const,
  registers: [],
});

/** Called from the status composition root. */
export function registerStatusMetrics(): void {
  registerMetrics(watchStreams);
}
