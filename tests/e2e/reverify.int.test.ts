import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { JOBS_PATH } from "@veriflow/events";
import { revokeContent, updateManifest } from "@veriflow/testing";
import { eventually, getJson, waitForJob } from "../support/client.js";
import { startReceiver, type Receiver } from "../support/receiver.js";
import { systemTest } from "../support/shared-system.js";
import type { System } from "../support/system.js";

// Verdicts that stay current: registry-watch follows the registry a completed job used; a
// change of its entry on chain re-verifies the job (a new run), the new verdict replaces
// `result`, the old one stays in `resultHistory`, and the job's callback hears verification.changed.
let sys: System;
const receivers: Receiver[] = [];
systemTest.beforeAll(({ system }) => {
  sys = system;
});
afterAll(async () => {
  await Promise.allSettled(receivers.map((r) => r.close()));
});

async function verifiedJob(callbackUrl?: string) {
  const content = `reverify ${randomBytes(16).toString("hex")}`;
  const published = await sys.publish(content);
  const form = new FormData();
  form.append("file", new Blob([content]), "upload.txt");
  form.append("registryAddress", sys.registry);
  form.append("manifestURI", published.manifestUri);
  if (callbackUrl) form.append("callbackUrl", callbackUrl);
  const res = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: form });
  const body = (await res.json()) as { jobId: string };
  expect(res.status, JSON.stringify(body)).toBe(202);
  const job = await waitForJob(sys.gatewayUrl, body.jobId);
  expect(job.result.status).toBe("OK");
  return { jobId: body.jobId, published, job };
}

const readJob = async (jobId: string) => (await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}`)).body;

describe("re-verification on registry changes", () => {
  it("a revocation on chain flips a completed OK job to FAIL revoked, keeps the OK in resultHistory and calls back verification.changed", async () => {
    const receiver = await startReceiver([200]);
    receivers.push(receiver);
    const { jobId, published, job } = await verifiedJob(receiver.url);
    const okBlock = job.result.onchain.blockNumber;

    const revokedAt = Date.now();
    const revocation = await revokeContent(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, published.contentHash);

    const flipped = await eventually(
      "the re-verified verdict",
      async () => {
        const j = await readJob(jobId);
        return j.status === "completed" && j.result?.status === "FAIL" ? j : undefined;
      },
      15_000,
    );
    const seconds = (Date.now() - revokedAt) / 1000;
    // When it is slow, the hop that took the time: each event's time and when status recorded it, in ms from the revocation.
    const hops = seconds < 10 ? [] : ((await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}/history`)).body.events as { type: string; run: number; occurredAt: string; recordedAt: string }[]);
    expect(seconds, JSON.stringify(hops.map((e) => [e.type, e.run, Date.parse(e.occurredAt) - revokedAt, Date.parse(e.recordedAt) - revokedAt]))).toBeLessThan(10);
    expect(flipped.run).toBe(2);
    expect(flipped.result.reasons).toContain("revoked");
    expect(flipped.result.onchain.blockNumber).toBeGreaterThanOrEqual(revocation.blockNumber);
    expect(flipped.resultHistory).toHaveLength(1);
    expect(flipped.resultHistory[0]).toMatchObject({ run: 1, status: "OK", reasons: [], blockNumber: okBlock });
    expect(flipped.resultHistory[0].result.status).toBe("OK");
    expect(typeof flipped.resultHistory[0].completedAt).toBe("string");

    const changed = await eventually(
      "verification.changed at the callback",
      async () => receiver.requests.map((r) => JSON.parse(r.body)).find((e) => e.type === "verification.changed"),
      10_000,
    );
    expect(changed.correlationId).toBe(jobId);
    expect(changed.data).toMatchObject({
      jobId,
      run: 2,
      previous: { status: "OK", reasons: [] },
      current: { status: "FAIL", reasons: expect.arrayContaining(["revoked"]) },
    });
    // The history records the re-verification as bulk work, started at the manifest stage.
    const history = (await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}/history`)).body;
    const rerun = history.events.find((e: { type: string; run: number }) => e.type === "content.hashed" && e.run === 2);
    expect(rerun.data.request.priority).toBe("bulk");
  });

  it("a manifest update on chain re-verifies the job to WARN uri_mismatch", async () => {
    const { jobId, published } = await verifiedJob();
    await updateManifest(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, published.contentHash, `${published.manifestUri}?moved`);
    const warned = await eventually(
      "the WARN verdict",
      async () => {
        const j = await readJob(jobId);
        return j.status === "completed" && j.result?.status === "WARN" ? j : undefined;
      },
      15_000,
    );
    expect(warned.result.reasons).toEqual(["uri_mismatch"]);
    expect(warned.resultHistory.map((v: { status: string }) => v.status)).toEqual(["OK"]);
  });
});
