import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { STREAM_NAME } from "@veriflow/events";
import { connectNats } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { submit, waitForJob } from "../support/client.js";
import { submissionServiceClient, submitVerification } from "../support/grpc.js";
import { systemTest } from "../support/shared-system.js";
import type { System } from "../support/system.js";

// Tracing off (the default env): nothing is recorded or exported, yet every event of a job
// still carries the job's trace in its traceparent, the client's or one the gateway started.
let sys: System;

systemTest.beforeAll(({ system }) => {
  sys = system;
});

async function traceparentsOf(jobId: string): Promise<string[]> {
  const nats = await connectNats({ url: sys.nats.url, name: "tracing-off-e2e", log: createSilentLogger() });
  try {
    const consumer = await nats.js.consumers.get(STREAM_NAME, { filter_subjects: `veriflow.*.*.${jobId}` });
    const out: string[] = [];
    for await (const m of await consumer.fetch({ max_messages: 100, expires: 2000 })) out.push(m.headers?.get("traceparent") ?? "");
    return out;
  } finally {
    await nats.close();
  }
}

async function runJob(headers: Record<string, string>) {
  const content = `untraced ${randomBytes(16).toString("hex")}`;
  const { manifestUri } = await sys.publish(content);
  const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, headers });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  expect((await waitForJob(sys.gatewayUrl, accepted.body.jobId)).status).toBe("completed");
  return traceparentsOf(accepted.body.jobId as string);
}

describe("tracing off", () => {
  it("keeps a client's trace id on every event of the job", async () => {
    const traceId = randomBytes(16).toString("hex");
    const parents = await runJob({ traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` });
    expect(parents.length).toBeGreaterThanOrEqual(4);
    for (const p of parents) expect(p).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  it("starts a trace for a job that came without one (or with a malformed traceparent), the same on every event", async () => {
    const cases: Record<string, string>[] = [{}, { traceparent: "00-not-a-trace-01" }];
    for (const headers of cases) {
      const parents = await runJob(headers);
      expect(parents.length).toBeGreaterThanOrEqual(4);
      const traceIds = new Set(parents.map((p) => /^00-([0-9a-f]{32})-[0-9a-f]{16}-00$/.exec(p)?.[1]));
      expect(traceIds.size).toBe(1);
      expect([...traceIds][0]).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it("keeps the trace a gRPC call's traceparent metadata names", async () => {
    const content = `untraced grpc ${randomBytes(16).toString("hex")}`;
    const { manifestUri } = await sys.publish(content);
    const traceId = randomBytes(16).toString("hex");
    const metadata = new grpc.Metadata();
    metadata.set("traceparent", `00-${traceId}-${randomBytes(8).toString("hex")}-01`);
    const client = submissionServiceClient(sys.gatewayGrpcAddress);
    try {
      const accepted = await submitVerification(
        client,
        [{ metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri, fileName: "upload.bin" } }, { chunk: Buffer.from(content) }],
        metadata,
      );
      expect((await waitForJob(sys.gatewayUrl, accepted.jobId)).status).toBe("completed");
      const parents = await traceparentsOf(accepted.jobId);
      expect(parents.length).toBeGreaterThanOrEqual(4);
      for (const p of parents) expect(p).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    } finally {
      client.close();
    }
  });
});
