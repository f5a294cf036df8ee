import * as grpc from "@grpc/grpc-js";
import { grpcRequests, grpcSeconds } from "@veriflow/http";

/** "/veriflow.v1.JobService/GetJob" → its service and method labels. */
export function grpcMethodLabels(path: string): { service: string; method: string } {
  const [, service = "unknown", method = "unknown"] = path.split("/");
  return { service, method };
}

/**
 * Starts counting one call: the returned function records its end with the status it got
 * (a code, or CANCELLED when the client went away first), once.
 */
export function startCallMetrics(path: string): (code: grpc.status) => void {
  const labels = grpcMethodLabels(path);
  const timer = grpcSeconds.startTimer(labels);
  let ended = false;
  return (code) => {
    if (ended) return;
    ended = true;
    timer();
    grpcRequests.inc({ ...labels, code: grpc.status[code] ?? String(code) });
  };
}
