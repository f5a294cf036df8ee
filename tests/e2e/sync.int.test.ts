import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { JOBS_PATH } from "@veriflow/events";
import { getJson, waitForJob } from "../support/client.js";
import { scrapeMetrics, sumOf } from "../support/metrics.js";
import { submissionServiceClient, submitVerification } from "../support/grpc.js";
import { startSystem, type System } from "../support/system.js";

// Synchronous answers (POST /api/verify, /api/proof, ?wait=) and the in-process fallback
// while NATS is down, on the whole system: real nats-server, PostgreSQL, chain, manifest
// server and the five services.
const SYNC_TIMEOUT_MS = 5000;
/** A contract that is not a ContentRegistry: its code reverts every call, entries() included. */
const NOT_A_REGISTRY = "0x00000000000000000000000000000000000000e1";
let sys: System;

beforeAll(async () => {
  // gRPC ports 0: free ports, so test files running in parallel don't collide.
  sys = await startSystem({ GATEWAY_SYNC_TIMEOUT_MS: String(SYNC_TIMEOUT_MS), STATUS_GRPC_PORT: "0", GATEWAY_GRPC_PORT: "0" });
  const setCode = { jsonrpc: "2.0", id: 1, method: "hardhat_setCode", params: [NOT_A_REGISTRY, "0x60006000fd"] }; // revert(0, 0)
  const rpc = await fetch(sys.chain.rpcUrl, { method: "POST", body: JSON.stringify(setCode), headers: { "content-type": "application/json" } });
  expect(await rpc.json()).toMatchObject({ result: true });
});
afterAll(async () => sys?.stop());

const uniqueContent = (label: string) => `${label} ${randomBytes(16).toString("hex")}`;
const sha256 = (content: string | Uint8Array) => `0x${createHash("sha256").update(content).digest("hex")}`;

const publish: System["publish"] = (content, opts) => sys.publish(content, opts);

/** A multipart POST to any gateway path, as an old client sends it. */
async function post(path: string, fields: { file: string | Uint8Array; manifestURI: string; registryAddress?: string; callbackUrl?: string; rpcUrl?: string }) {
  const form = new FormData();
  form.append("file", new Blob([typeof fields.file === "string" ? fields.file : Buffer.from(fields.file)]), "upload.bin");
  form.append("registryAddress", fields.registryAddress ?? sys.registry);
  form.append("manifestURI", fields.manifestURI);
  if (fields.callbackUrl) form.append("callbackUrl", fields.callbackUrl);
  if (fields.rpcUrl) form.append("rpcUrl", fields.rpcUrl);
  const started = Date.now();
  const res = await fetch(`${sys.gatewayUrl}${path}`, { method: "POST", body: form });
  return { status: res.status, body: (await res.json()) as any, ms: Date.now() - started, headers: res.headers };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const gatewayReady = async () => (await fetch(`http://127.0.0.1:${sys.services.gateway.opsPort}/readyz`)).status === 200;

describe("synchronous mode through the pipeline", () => {
  it("POST /api/verify answers the verdict in the same request: 200 { mode: sync, jobId, result }", async () => {
    const content = uniqueContent("sync ok");
    const { contentHash, manifestUri } = await publish(content);
    const res = await post("/api/verify", { file: content, manifestURI: manifestUri });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["jobId", "mode", "result"]);
    expect(res.body).toMatchObject({ mode: "sync", jobId: expect.any(String) });
    const address = sys.chain.accounts[0]!.address;
    expect(res.body.result).toEqual({
      status: "OK",
      reasons: [],
      fileHash: contentHash,
      recovered: address,
      onchain: { creator: address, timestamp: expect.any(Number), manifestURI: manifestUri, revoked: false, blockNumber: expect.any(Number) },
      checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
    });
    // It went through the pipeline: the job exists and holds the same result.
    const job = await waitForJob(sys.gatewayUrl, res.body.jobId);
    expect(job).toMatchObject({ status: "completed", result: res.body.result });
  });

  it("a FAIL verdict is a completed job: still 200", async () => {
    const content = uniqueContent("sync unregistered");
    const { manifestUri } = await publish(content, { registrantKey: null });
    const res = await post("/api/verify", { file: content, manifestURI: manifestUri });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ mode: "sync", result: { status: "FAIL", reasons: ["not_registered"] } });
  });

  it("POST /api/proof answers the proof document", async () => {
    const content = uniqueContent("sync proof");
    const { manifestUri, registration } = await publish(content);
    const res = await post("/api/proof", { file: content, manifestURI: manifestUri });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      mode: "sync",
      result: { status: "OK", proofVersion: "veriflow.proof/1", chainId: sys.chain.chainId, txHash: registration!.txHash, registryAddress: sys.registry },
    });
    const job = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${res.body.jobId}`);
    expect(job.body.type).toBe("proof");
  });

  it("POST /api/proof with a FAIL verdict", async () => {
    const content = uniqueContent("sync proof unregistered");
    const { manifestUri } = await publish(content, { registrantKey: null });
    const res = await post("/api/proof", { file: content, manifestURI: manifestUri });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({ status: "FAIL", reasons: ["not_registered"], proofVersion: "veriflow.proof/1", txHash: null });
  });

  it("a failed job is an error answer with its code, stage and jobId (422: manifest not found)", async () => {
    const res = await post("/api/verify", { file: uniqueContent("sync 404"), manifestURI: `${sys.manifests.url}/manifests/does-not-exist` });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      error: {
        code: "E_MANIFEST_NOT_FOUND",
        message: expect.any(String),
        details: { jobId: expect.any(String), stage: "manifest", attempts: 1, pollUrl: `${JOBS_PATH}/${res.body.error.details.jobId}` },
      },
      requestId: expect.any(String),
    });
    const job = await waitForJob(sys.gatewayUrl, res.body.error.details.jobId);
    expect(job).toMatchObject({ status: "failed", failure: { code: "E_MANIFEST_NOT_FOUND" } });
  });

  it("a registry without a contract fails at chain-check: 422 E_REGISTRY_NOT_CONTRACT", async () => {
    const content = uniqueContent("sync nocontract");
    const { manifestUri } = await publish(content, { registrantKey: null });
    const res = await post("/api/verify", { file: content, manifestURI: manifestUri, registryAddress: sys.chain.accounts[5]!.address });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: "E_REGISTRY_NOT_CONTRACT", details: { stage: "chain-check" } });
  });

  it("a registry contract without entries() fails at chain-check: 422 E_REGISTRY_INCOMPATIBLE, never a 500", async () => {
    const content = uniqueContent("sync incompatible");
    const { manifestUri } = await publish(content, { registrantKey: null });
    for (const path of ["/api/verify", "/api/verification-jobs/verify?wait=10"]) {
      const res = await post(path, { file: content, manifestURI: manifestUri, registryAddress: NOT_A_REGISTRY });
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(422);
      expect(res.body.error).toMatchObject({ code: "E_REGISTRY_INCOMPATIBLE", details: { stage: "chain-check", jobId: expect.any(String) } });
      const job = await waitForJob(sys.gatewayUrl, res.body.error.details.jobId);
      expect(job).toMatchObject({ status: "failed", failure: { stage: "chain-check", code: "E_REGISTRY_INCOMPATIBLE" } });
    }
  });

  it("past GATEWAY_SYNC_TIMEOUT_MS: 202 with the usual async body and pollUrl", async () => {
    const res = await post("/api/verify", { file: uniqueContent("sync stall"), manifestURI: `${sys.manifests.url}/stall` });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ mode: "async", jobId: expect.any(String), status: "queued", message: expect.any(String), pollUrl: `${JOBS_PATH}/${res.body.jobId}` });
    expect(res.ms).toBeGreaterThanOrEqual(SYNC_TIMEOUT_MS - 50);
    expect(res.ms).toBeLessThan(SYNC_TIMEOUT_MS + 3000);
  });
});

describe("?wait= on the async routes", () => {
  it("waits for the outcome: 200 { mode: sync, jobId, result }", async () => {
    const content = uniqueContent("wait ok");
    const { manifestUri } = await publish(content);
    const res = await post(`${JOBS_PATH}/verify?wait=10`, { file: content, manifestURI: manifestUri });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ mode: "sync", jobId: expect.any(String), result: { status: "OK" } });
    const proof = await post(`${JOBS_PATH}/proof?wait=10`, { file: content, manifestURI: manifestUri });
    expect(proof.body).toMatchObject({ mode: "sync", result: { proofVersion: "veriflow.proof/1" } });
  });

  it("answers 202 when the wait runs out, and without ?wait= (or wait=0) as before", async () => {
    const stalled = await post(`${JOBS_PATH}/verify?wait=0.5`, { file: uniqueContent("wait stall"), manifestURI: `${sys.manifests.url}/stall` });
    expect(stalled.status).toBe(202);
    expect(stalled.body).toMatchObject({ mode: "async", status: "queued", pollUrl: `${JOBS_PATH}/${stalled.body.jobId}` });
    expect(stalled.ms).toBeGreaterThanOrEqual(450);
    expect(stalled.ms).toBeLessThan(SYNC_TIMEOUT_MS);

    const content = uniqueContent("nowait");
    const { manifestUri } = await publish(content);
    for (const path of [`${JOBS_PATH}/verify`, `${JOBS_PATH}/verify?wait=0`]) {
      const res = await post(path, { file: content, manifestURI: manifestUri });
      expect(res.status).toBe(202);
      expect(res.body.mode).toBe("async");
    }
  });

  it("caps the wait at the sync timeout", async () => {
    const res = await post(`${JOBS_PATH}/verify?wait=3600`, { file: uniqueContent("wait cap"), manifestURI: `${sys.manifests.url}/stall` });
    expect(res.status).toBe(202);
    expect(res.ms).toBeLessThan(SYNC_TIMEOUT_MS + 3000);
  });

  it("an invalid wait is a 400", async () => {
    for (const wait of ["abc", "-1", "1e3", ""]) {
      const res = await post(`${JOBS_PATH}/verify?wait=${wait}`, { file: "x", manifestURI: `${sys.manifests.url}/manifests/x` });
      expect(res.status, wait).toBe(400);
      expect(res.body.error.code).toBe("E_INVALID_WAIT");
    }
  });
});

describe("fallback: NATS down, the gateway verifies in-process", () => {
  let ok: { content: string; contentHash: string; manifestUri: string };
  let unregistered: { content: string; manifestUri: string };

  beforeAll(async () => {
    ok = { content: uniqueContent("fallback ok"), contentHash: "", manifestUri: "" };
    Object.assign(ok, await publish(ok.content));
    unregistered = { content: uniqueContent("fallback unregistered"), manifestUri: "" };
    unregistered.manifestUri = (await publish(unregistered.content, { registrantKey: null })).manifestUri;
    await sys.nats.stop({ keepStore: true });
    await until("the gateway to notice NATS is down", async () => !(await gatewayReady()));
  });

  it("the async route answers { mode: sync, result } exactly as the old system did", async () => {
    const fallbacks = async () => sumOf(await scrapeMetrics(sys.services.gateway.opsPort), "veriflow_fallback_verifications_total", { outcome: "completed" });
    const before = await fallbacks();
    const res = await post(`${JOBS_PATH}/verify`, { file: ok.content, manifestURI: ok.manifestUri });
    expect(await fallbacks()).toBe(before + 1);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["mode", "result"]);
    expect(res.body.mode).toBe("sync");
    expect(res.body.result).toMatchObject({ status: "OK", reasons: [], fileHash: ok.contentHash, checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true } });
    expect(res.headers.get("x-veriflow-mode")).toBe("fallback");
  });

  it("FAIL verdicts, proofs and /api/verify too, with ?wait= ignored", async () => {
    const fail = await post(`${JOBS_PATH}/verify?wait=5`, { file: unregistered.content, manifestURI: unregistered.manifestUri });
    expect(fail.status).toBe(200);
    expect(fail.body).toEqual({ mode: "sync", result: expect.objectContaining({ status: "FAIL", reasons: ["not_registered"] }) });

    const proof = await post(`${JOBS_PATH}/proof`, { file: ok.content, manifestURI: ok.manifestUri });
    expect(proof.status).toBe(200);
    expect(proof.body).toEqual({ mode: "sync", result: expect.objectContaining({ status: "OK", proofVersion: "veriflow.proof/1", chainId: sys.chain.chainId }) });
    expect(proof.body.result.txHash).toMatch(/^0x[0-9a-f]{64}$/);

    const direct = await post("/api/verify", { file: ok.content, manifestURI: ok.manifestUri });
    expect(direct.body).toEqual({ mode: "sync", result: expect.objectContaining({ status: "OK" }) });
    const directProof = await post("/api/proof", { file: unregistered.content, manifestURI: unregistered.manifestUri });
    expect(directProof.body).toEqual({ mode: "sync", result: expect.objectContaining({ status: "FAIL", registration: null }) });
  });

  it("hashes a large upload as it streams in", async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const res = await post(`${JOBS_PATH}/verify`, { file: big, manifestURI: ok.manifestUri });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({ status: "FAIL", fileHash: sha256(big), checks: { manifestHashOk: false } });
  });

  it("errors get the same 4xx/5xx mapping as failed jobs", async () => {
    const missing = await post(`${JOBS_PATH}/verify`, { file: "x", manifestURI: `${sys.manifests.url}/manifests/does-not-exist` });
    expect(missing.status).toBe(422);
    expect(missing.body.error).toMatchObject({ code: "E_MANIFEST_NOT_FOUND", details: { stage: "manifest" } });

    const bad = await post(`${JOBS_PATH}/verify`, { file: "x", manifestURI: ok.manifestUri, registryAddress: "0x1234" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("E_INVALID_REGISTRY_ADDRESS");

    const down = await post("/api/verify", { file: ok.content, manifestURI: "http://127.0.0.1:1/manifest.json" });
    expect(down.status).toBe(502);
    expect(down.body.error.code).toBe("E_MANIFEST_UNAVAILABLE");

    const incompatible = await post("/api/verify", { file: unregistered.content, manifestURI: unregistered.manifestUri, registryAddress: NOT_A_REGISTRY });
    expect(incompatible.status, JSON.stringify(incompatible.body)).toBe(422);
    expect(incompatible.body.error).toMatchObject({ code: "E_REGISTRY_INCOMPATIBLE", details: { stage: "chain-check" } });
  });

  it("runs every stage with its own guards, and says why a callbackUrl is not called", async () => {
    const withCallback = await post("/api/verify", { file: ok.content, manifestURI: ok.manifestUri, callbackUrl: "http://127.0.0.1:9/hook" });
    expect(withCallback.status, JSON.stringify(withCallback.body)).toBe(200);
    expect(withCallback.body).toEqual({
      mode: "sync",
      result: expect.objectContaining({ status: "OK" }),
      callback: { sent: false, reason: expect.stringContaining("not recorded as a job") },
    });
  });

  it("gRPC SubmitVerification falls back too: mode sync, the verdict typed and as JSON, no job", async () => {
    const client = submissionServiceClient(sys.gatewayGrpcAddress);
    try {
      const metadata = { type: "JOB_TYPE_VERIFY" as const, registryAddress: sys.registry, manifestUri: ok.manifestUri, fileName: "a.txt", contentType: "text/plain" };
      const content = Buffer.from(ok.content);
      const res = await submitVerification(client, [{ metadata }, { chunk: content.subarray(0, 7) }, { chunk: content.subarray(7) }]);
      expect(res).toMatchObject({ jobId: "", status: "JOB_STATUS_COMPLETED", pollUrl: "", mode: "sync", verdict: { status: "OK", fileHash: ok.contentHash } });
      expect(JSON.parse(res.resultJson!)).toMatchObject({ status: "OK", fileHash: ok.contentHash });

      const missing = await submitVerification(client, [{ metadata: { ...metadata, manifestUri: `${sys.manifests.url}/manifests/does-not-exist` } }, { chunk: content }]).catch((e: grpc.ServiceError) => e);
      expect((missing as grpc.ServiceError).code).toBe(grpc.status.FAILED_PRECONDITION);
      expect((missing as grpc.ServiceError).metadata.get("x-error-code")).toEqual(["E_MANIFEST_NOT_FOUND"]);
    } finally {
      client.close();
    }
  });

  it("stats say available: false (the status service's own view, through the gateway)", async () => {
    const own = await getJson(`${sys.statusUrl}${JOBS_PATH}/stats`);
    expect(own.body.available).toBe(false);
    const stats = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/stats`);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ available: false, waiting: expect.any(Number), active: expect.any(Number), completed: expect.any(Number), failed: expect.any(Number) });
  });

  it("when NATS returns, async mode resumes by itself: 202, and the job completes", async () => {
    await sys.nats.restart();
    await until("the gateway to reconnect", gatewayReady);
    const content = uniqueContent("resumed");
    const { manifestUri } = await publish(content);
    const accepted = await post(`${JOBS_PATH}/verify`, { file: content, manifestURI: manifestUri });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    expect(accepted.body.mode).toBe("async");
    const job = await waitForJob(sys.gatewayUrl, accepted.body.jobId, 30_000);
    expect(job).toMatchObject({ status: "completed", result: { status: "OK" } });

    const sync = await post("/api/verify", { file: content, manifestURI: manifestUri });
    expect(sync.body).toMatchObject({ mode: "sync", jobId: expect.any(String), result: { status: "OK" } });
    const stats = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/stats`);
    expect(stats.body.available).toBe(true);
  });
});

describe("NATS drops in the middle of an upload", () => {
  it("answers 503 (no half-way fallback); the next submission takes the fallback; then the queue again", async () => {
    const boundary = `----veriflow${randomBytes(8).toString("hex")}`;
    const enc = (t: string) => new TextEncoder().encode(t);
    const field = (name: string, value: string) => `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const head = enc(field("registryAddress", sys.registry) + field("manifestURI", `${sys.manifests.url}/manifests/x`) + `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent === 0) c.enqueue(head);
        else if (sent <= 4) c.enqueue(randomBytes(512 * 1024));
        else if (sent === 5) {
          await sys.nats.stop({ keepStore: true }); // the upload is half-way into the object store
          c.enqueue(randomBytes(512 * 1024));
        } else {
          c.enqueue(enc(`\r\n--${boundary}--\r\n`));
          c.close();
        }
        sent++;
      },
    });
    try {
      const res = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, {
        method: "POST",
        body,
        duplex: "half",
        headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      });
      expect(res.status).toBe(503);
      expect(["E_STORAGE_UNAVAILABLE", "E_QUEUE_UNAVAILABLE"]).toContain(((await res.json()) as any).error.code);

      const next = await post(`${JOBS_PATH}/verify`, { file: "after the drop", manifestURI: `${sys.manifests.url}/manifests/does-not-exist` });
      expect(next.headers.get("x-veriflow-mode"), `${next.status} ${JSON.stringify(next.body)}`).toBe("fallback");
      expect(next.status).toBe(422);
    } finally {
      if (!(await gatewayReady().catch(() => false))) await sys.nats.restart();
    }
    // The failed write tripped the switch: the gateway probes JetStream (every second) before using it again.
    await until("stats to say available again", async () => (await getJson(`${sys.gatewayUrl}${JOBS_PATH}/stats`)).body.available === true);
    const res = await post(`${JOBS_PATH}/verify`, { file: "queue again", manifestURI: `${sys.manifests.url}/manifests/x` });
    expect(res.status).toBe(202);
  });
});

describe("stats without the status service", () => {
  it("answers available: false and null counts", async () => {
    await sys.services.status.stop();
    const stats = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/stats`);
    expect(stats.status).toBe(200);
    expect(stats.body).toEqual({ available: false, waiting: null, active: null, completed: null, failed: null });
  });
});
