import { describe, expect, it } from "vitest";
import { loadStatusProtos, loadSubmissionServiceProto, type grpc } from "@veriflow/grpc";
import { methodsOf } from "./grpc-calls.js";
import { createMessageEncoder } from "./protobuf-messages.js";
import { createRandom } from "./random.js";

describe("createMessageEncoder", () => {
  it("writes messages every method's own decoder takes: structurally valid, whatever their values", () => {
    for (const definition of [loadStatusProtos().packageDefinition, loadSubmissionServiceProto().packageDefinition]) {
      const encoder = createMessageEncoder(definition, { manifestsUrl: "http://127.0.0.1:1", strings: { jobId: ["7d3f0c1e-0000-4000-8000-000000000000"], seq: ["3"] } });
      const services = Object.values(definition).filter((d) => !("format" in d)) as grpc.ServiceDefinition[];
      const deserializers = new Map(services.flatMap((s) => Object.values(s).map((m) => [m.path, m.requestDeserialize] as const)));
      const methods = methodsOf(definition);
      expect(methods.length).toBeGreaterThan(0);
      const r = createRandom(7);
      for (const method of methods) {
        for (let i = 0; i < 200; i++) {
          const bytes = encoder.encode(r, method.requestType);
          expect(() => deserializers.get(method.path)!(bytes), `${method.path} ${bytes.toString("base64")}`).not.toThrow();
        }
      }
    }
  });
});
