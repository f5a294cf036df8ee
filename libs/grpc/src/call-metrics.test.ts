import * as grpc from "@grpc/grpc-js";
import { grpcRequests } from "@veriflow/http";
import { describe, expect, it } from "vitest";
import { grpcMethodLabels, startCallMetrics } from "./call-metrics.js";

describe("gRPC call metrics", () => {
  it("labels a call by its service and method", () => {
    expect(grpcMethodLabels("/veriflow.v1.JobService/GetJob")).toEqual({ service: "veriflow.v1.JobService", method: "GetJob" });
    expect(grpcMethodLabels("")).toEqual({ service: "unknown", method: "unknown" });
  });

  it("counts a call once, with the first status it ended with", async () => {
    const end = startCallMetrics("/unit.Test/Once");
    end(grpc.status.CANCELLED);
    end(grpc.status.OK);
    const values = (await grpcRequests.get()).values.filter((v) => v.labels.service === "unit.Test");
    expect(values.map((v) => [v.labels.code, v.value])).toEqual([["CANCELLED", 1]]);
  });
});
