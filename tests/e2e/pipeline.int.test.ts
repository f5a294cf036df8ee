import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { eventually, revokeContent, updateManifest } from "@veriflow/testing";
import { JOBS_PATH, UPLOADS_BUCKET } from "@veriflow/events";
import { connectNats, findLastEvent, isUploadStored } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { getJson, submit, waitForJob } from "../support/client.js";
import { systemTest } from "../support/shared-system.js";
import type { System } from "../support/system.js";

// The whole pipeline on real servers: nats-server, PostgreSQL, a hardhat chain with the
// registry deployed, a manifest server (HTTP + IPFS trustless gateway), five services.
let sys: System;
let key: (i: number) => string;
let address: (i: number) => string;

systemTest.beforeAll(({ system }) => {
  sys = system;
  key = (i) => sys.chain.accounts[i]!.privateKey;
  address = (i) => sys.chain.accounts[i]!.address;
});

const uniqueContent = (label: string) => `${label} ${randomBytes(16).toString("hex")}`;

const publish: System["publish"] = (content, opts) => sys.publish(content, opts);

async function verify(content: string, manifestURI: string, type: "verify" | "proof" = "verify", fresh?: boolean) {
  const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI, type, fresh });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  return waitForJob(sys.gatewayUrl, accepted.body.jobId);
}

describe("verdicts", () => {
  it("OK: a registered file with its signed manifest, with every job field of the old API", async () => {
    const content = uniqueContent("ok");
    const { contentHash, manifestUri, registration } = await publish(content);
    const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, fileName: "ok.txt" });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ mode: "async", status: "queued", pollUrl: `${JOBS_PATH}/${accepted.body.jobId}` });
    expect(accepted.body.message).toEqual(expect.any(String));

    const job = await waitForJob(sys.gatewayUrl, accepted.body.jobId);
    expect(job).toMatchObject({
      id: accepted.body.jobId,
      jobId: accepted.body.jobId,
      type: "verify",
      status: "completed",
      progress: 100,
      contentHash,
      manifestUri,
      registryAddress: sys.registry,
      error: null,
      retryCount: 0,
    });
    for (const field of ["createdAt", "startedAt", "completedAt"]) expect(Date.parse(job[field])).not.toBeNaN();
    expect(job.result).toEqual({
      status: "OK",
      reasons: [],
      fileHash: contentHash,
      recovered: address(0),
      onchain: { creator: address(0), timestamp: expect.any(Number), manifestURI: manifestUri, revoked: false, blockNumber: expect.any(Number) },
      checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
    });
    expect(job.result.onchain.timestamp).toBeGreaterThan(0);
    // The verdict names the block it read: one where the registration already is.
    expect(job.result.onchain.blockNumber).toBeGreaterThanOrEqual(registration!.blockNumber);

    // The request named where its one-chunk upload was stored; hashing deleted it.
    const nats = await connectNats({ url: sys.nats.url, name: "pipeline-e2e", log: createSilentLogger() });
    const request = await findLastEvent(nats.jsm, "verification.requested", accepted.body.jobId);
    expect(request?.data).toMatchObject({ upload: { bucket: UPLOADS_BUCKET, chunks: 1, entrySeq: expect.any(Number), chunkSeq: expect.any(Number) } });
    await eventually(async () => !(await isUploadStored(nats.jsm, { name: accepted.body.jobId })), "the upload deleted");
    await nats.close();
  });

  it("OK through an ipfs:// manifest fetched block by block from the trustless gateway", async () => {
    const content = uniqueContent("ipfs");
    const { manifestUri } = await publish(content, { via: "ipfs" });
    expect(manifestUri).toMatch(/^ipfs:\/\//);
    const job = await verify(content, manifestUri);
    expect(job.result.status).toBe("OK");
  });

  it("WARN uri_mismatch: the creator updated the manifest URI after registering", async () => {
    const content = uniqueContent("warn");
    const { contentHash, manifestUri } = await publish(content);
    const newer = sys.manifests.putManifest(`newer-${contentHash.slice(2, 10)}`, { moved: true });
    await updateManifest(sys.chain.rpcUrl, key(0), sys.registry, contentHash, newer);
    const job = await verify(content, manifestUri);
    expect(job.result).toMatchObject({ status: "WARN", reasons: ["uri_mismatch"], checks: { manifestHashOk: true, creatorOk: true, manifestOk: false } });
    expect(job.result.onchain.manifestURI).toBe(newer);
  });

  it("FAIL not_registered", async () => {
    const content = uniqueContent("unregistered");
    const { manifestUri } = await publish(content, { registrantKey: null });
    const job = await verify(content, manifestUri);
    expect(job.status).toBe("completed");
    expect(job.result).toMatchObject({ status: "FAIL", reasons: ["not_registered"], onchain: { timestamp: 0, revoked: false } });
  });

  it("FAIL revoked", async () => {
    const content = uniqueContent("revoked");
    const { contentHash, manifestUri } = await publish(content);
    await revokeContent(sys.chain.rpcUrl, key(0), sys.registry, contentHash);
    const job = await verify(content, manifestUri);
    expect(job.result).toMatchObject({ status: "FAIL", reasons: ["revoked"], onchain: { creator: address(0), manifestURI: "", revoked: true } });
  });

  it("FAIL hash_mismatch: the uploaded file is not the one the manifest signs", async () => {
    const content = uniqueContent("original");
    const { manifestUri } = await publish(content);
    const job = await verify(`${content} (edited)`, manifestUri);
    expect(job.result.status).toBe("FAIL");
    expect(job.result.reasons).toEqual(["not_registered", "hash_mismatch"]);
    expect(job.result.checks.manifestHashOk).toBe(false);
  });

  it("FAIL creator_mismatch: registered by one account, manifest signed by another", async () => {
    const content = uniqueContent("squatted");
    const { manifestUri } = await publish(content, { signerKey: key(0), registrantKey: key(1) });
    const job = await verify(content, manifestUri);
    expect(job.result).toMatchObject({ status: "FAIL", reasons: ["creator_mismatch"], recovered: address(0), onchain: { creator: address(1) } });
  });

  it("FAIL bad_signature: a signature nothing can be recovered from", async () => {
    const content = uniqueContent("badsig");
    const { manifestUri } = await publish(content, { tamper: (m) => ({ ...m, signature: `0x${"00".repeat(64)}1b` }) });
    const job = await verify(content, manifestUri);
    expect(job.result.status).toBe("FAIL");
    expect(job.result.reasons).toContain("bad_signature");
    expect(job.result.recovered).toBeNull();
  });

  it("WARN did_mismatch: the manifest's creator_did names someone other than the signer", async () => {
    const content = uniqueContent("did");
    const did = `did:pkh:eip155:${sys.chain.chainId}:${address(2)}`;
    const { manifestUri } = await publish(content, { tamper: (m) => ({ ...m, creator_did: did }) });
    const job = await verify(content, manifestUri);
    expect(job.result).toMatchObject({ status: "WARN", reasons: ["did_mismatch"], checks: { creatorOk: true, didOk: false } });
  });

  it("accepts upper-case hex in the manifest's content_hash", async () => {
    const content = uniqueContent("upper");
    const { manifestUri } = await publish(content, { tamper: (m) => ({ ...m, content_hash: `0x${m.content_hash.slice(2).toUpperCase()}` }) });
    const job = await verify(content, manifestUri);
    expect(job.result.status).toBe("OK");
    expect(job.result.fileHash).toBe(job.result.fileHash.toLowerCase());
  });

  it("proof: the registration transaction, chain id, registry and manifest, re-checkable", async () => {
    const content = uniqueContent("proof");
    const { contentHash, manifestUri, manifest, registration } = await publish(content, { via: "ipfs" });
    const job = await verify(content, manifestUri, "proof");
    expect(job.type).toBe("proof");
    expect(job.result).toMatchObject({
      status: "OK",
      proofVersion: "veriflow.proof/1",
      chainId: sys.chain.chainId,
      registryAddress: sys.registry,
      txHash: registration!.txHash,
      blockNumber: registration!.blockNumber,
      registration: { txHash: registration!.txHash, blockNumber: registration!.blockNumber },
      manifest: { uri: manifestUri, cid: manifestUri.slice("ipfs://".length), creatorDid: manifest.creator_did, signature: manifest.signature, contentHash },
    });
  });
});

describe("chain-check's reads, on its /metrics", () => {
  /** A sample of chain-check's /metrics: `name{label="value"}` → its value. */
  async function chainMetric(name: string, label: string, value: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${sys.services["chain-check"].opsPort}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{${label}="${value}"}`));
    return line === undefined ? 0 : Number(line.split(" ").at(-1));
  }
  const counts = async () => ({
    ethCall: await chainMetric("veriflow_chain_rpc_requests_total", "method", "eth_call"),
    blockNumber: await chainMetric("veriflow_chain_rpc_requests_total", "method", "eth_blockNumber"),
    hit: await chainMetric("veriflow_chain_read_cache_total", "outcome", "hit"),
    miss: await chainMetric("veriflow_chain_read_cache_total", "outcome", "miss"),
  });

  it("counts every JSON-RPC call by method, and a content verified again within a block costs no eth_call", async () => {
    const content = uniqueContent("twice");
    const { manifestUri } = await publish(content);
    const before = await counts();
    // Fresh: a second identical verification would otherwise be answered from the first's verdict
    // (tests/e2e/known-verdicts), without reaching chain-check at all.
    const first = await verify(content, manifestUri, "verify", true);
    const second = await verify(content, manifestUri, "verify", true); // no transaction between: the same block
    expect([first.result.status, second.result.status]).toEqual(["OK", "OK"]);
    expect(second.result.onchain).toEqual(first.result.onchain);
    const after = await counts();
    expect(after.ethCall - before.ethCall).toBe(1);
    expect({ hit: after.hit - before.hit, miss: after.miss - before.miss }).toEqual({ hit: 1, miss: 1 });
    expect(after.blockNumber - before.blockNumber).toBe(2); // this system's CHAIN_BLOCK_MAX_AGE_MS is 0
  });
});

describe("failures are failed jobs with a stage and a code", () => {
  it("a gateway serving tampered bytes for a CID is caught (E_CID_MISMATCH), never trusted", async () => {
    const content = uniqueContent("tampered");
    const { manifestUri } = await publish(content, { via: "ipfs" });
    const cid = manifestUri.slice("ipfs://".length);
    sys.manifests.tamper(cid, true);
    try {
      const job = await verify(content, manifestUri);
      expect(job).toMatchObject({ status: "failed", failure: { stage: "manifest", code: "E_CID_MISMATCH" } });
      expect(job.error).toEqual(expect.any(String));
      expect(job.result).toBeNull();
    } finally {
      sys.manifests.tamper(cid, false);
    }
  });

  it("a missing manifest fails at once (permanent, no retries)", async () => {
    const job = await verify(uniqueContent("404"), `${sys.manifests.url}/manifests/does-not-exist`);
    expect(job).toMatchObject({ status: "failed", failure: { stage: "manifest", code: "E_MANIFEST_NOT_FOUND", attempts: 1 } });
  });

  it("a manifest server that answers 503 twice is retried with backoff, then the job completes", async () => {
    const content = uniqueContent("flaky");
    const { manifestUri } = await publish(content);
    sys.manifests.failNext(manifestUri, 2, 503);
    const job = await verify(content, manifestUri);
    expect(job.status).toBe("completed");
    expect(job.result.status).toBe("OK");
    expect(job.retryCount).toBe(2);
  });

  it("a registry address with no contract behind it fails permanently at chain-check", async () => {
    const content = uniqueContent("nocontract");
    const { manifestUri } = await publish(content, { registrantKey: null });
    const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: address(5), manifestURI: manifestUri });
    const job = await waitForJob(sys.gatewayUrl, accepted.body.jobId);
    expect(job).toMatchObject({ status: "failed", failure: { stage: "chain-check", code: "E_REGISTRY_NOT_CONTRACT" } });
  });
});

describe("the REST surface", () => {
  it("a job is readable as soon as the 202 is sent (the old system raced into a 500 here)", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const accepted = await submit(sys.gatewayUrl, { file: uniqueContent(`race ${i}`), registryAddress: sys.registry, manifestURI: `${sys.manifests.url}/manifests/x` });
        return getJson(`${sys.gatewayUrl}${accepted.body.pollUrl}`);
      }),
    );
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(["queued", "processing", "completed", "failed"]).toContain(r.body.status);
    }
  });

  it("bad input gets a clear 4xx, never a 500", async () => {
    const manifestURI = `${sys.manifests.url}/manifests/x`;
    const cases: [Parameters<typeof submit>[1] | "json", number, string][] = [
      [{ file: "x", manifestURI }, 400, "E_REGISTRY_ADDRESS_REQUIRED"],
      [{ file: "x", registryAddress: "0x1234", manifestURI }, 400, "E_INVALID_REGISTRY_ADDRESS"],
      [{ file: "x", registryAddress: sys.registry }, 400, "E_MANIFEST_URI_REQUIRED"],
      [{ file: "x", registryAddress: sys.registry, manifestURI: "ftp://example.com/m.json" }, 400, "E_INVALID_MANIFEST_URI"],
      [{ file: "x", registryAddress: sys.registry, manifestURI: "ipfs://not-a-cid" }, 400, "E_INVALID_MANIFEST_URI"],
      [{ file: "x", registryAddress: sys.registry, manifestURI, rpcUrl: "http://127.0.0.1:1" }, 400, "E_RPC_URL_NOT_ALLOWED"],
      // NUL cannot be stored by PostgreSQL: refused at the edge, before it reaches a batch.
      [{ file: "x", registryAddress: sys.registry, manifestURI: `${manifestURI}\u0000.json` }, 400, "E_CONTROL_CHARACTER"],
      // (busboy itself refuses a raw NUL in a file name; an encoded one is refused by the gateway, below)
      [{ file: "x", registryAddress: sys.registry, manifestURI, fileName: "photo\u0000.jpg" }, 400, "E_BAD_MULTIPART"],
      ["json", 415, "E_UNSUPPORTED_MEDIA_TYPE"],
    ];
    for (const [input, status, code] of cases) {
      const res =
        input === "json"
          ? await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }).then(async (r) => ({ status: r.status, body: await r.json() }))
          : await submit(sys.gatewayUrl, input);
      expect(res.status, code).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message).toEqual(expect.any(String));
      expect(res.body.requestId).toEqual(expect.any(String));
    }

    const noFile = new FormData();
    noFile.append("registryAddress", sys.registry);
    noFile.append("manifestURI", manifestURI);
    const res = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: noFile });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("E_FILE_REQUIRED");

    // Bodies multer or busboy refuse: a client's mistake (400), never the storage's (503).
    const part = (name: string, value: string, fileName?: string) =>
      `--B\r\nContent-Disposition: form-data; name="${name}"${fileName ? `; filename="${fileName}"` : ""}\r\n\r\n${value}\r\n`;
    const fields = part("registryAddress", sys.registry) + part("manifestURI", manifestURI);
    const multipart: [string, string, string, string][] = [
      ["cut short", "multipart/form-data; boundary=B", `${fields}--B\r\nContent-Disposition: form-data; name="manifestURI"\r\n\r\nhttp`, "E_BAD_MULTIPART"],
      ["file cut short", "multipart/form-data; boundary=B", `${fields}--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nsome bytes`, "E_BAD_MULTIPART"],
      ["no boundary", "multipart/form-data", `${fields}--B--\r\n`, "E_BAD_MULTIPART"],
      ["too many fields", "multipart/form-data; boundary=B", `${Array.from({ length: 17 }, (_, i) => part(`f${i}`, "x")).join("")}--B--\r\n`, "E_BAD_MULTIPART"],
      ["a file in another field", "multipart/form-data; boundary=B", `${fields}${part("attachment", "bytes", "a.txt")}--B--\r\n`, "E_UNEXPECTED_FILE"],
      ["a NUL in an encoded file name", "multipart/form-data; boundary=B", `${fields}--B\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''a%00.jpg\r\n\r\nbytes\r\n--B--\r\n`, "E_CONTROL_CHARACTER"],
    ];
    for (const [what, type, body, code] of multipart) {
      const r = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body, headers: { "content-type": type } });
      expect(r.status, what).toBe(400);
      expect(((await r.json()) as { error: { code: string } }).error.code, what).toBe(code);
    }

    expect((await getJson(`${sys.gatewayUrl}${JOBS_PATH}/7d3f0c1e-0000-4000-8000-000000000000`)).status).toBe(404);
    expect((await getJson(`${sys.gatewayUrl}${JOBS_PATH}/not-a-job`)).status).toBe(400);
    expect((await getJson(`${sys.gatewayUrl}${JOBS_PATH}?status=bogus`)).status).toBe(400);
  });

  it("lists newest first with the true total and a capped limit, and counts by status", async () => {
    const page = await getJson(`${sys.gatewayUrl}${JOBS_PATH}?limit=1000&offset=0`);
    expect(page.status).toBe(200);
    expect(page.body.limit).toBe(100);
    expect(page.body.total).toBeGreaterThanOrEqual(page.body.jobs.length);
    expect(page.body.count).toBe(page.body.total);
    const created = page.body.jobs.map((j: any) => Date.parse(j.createdAt));
    expect(created).toEqual([...created].sort((a, b) => b - a));

    const completed = await getJson(`${sys.gatewayUrl}${JOBS_PATH}?status=completed&limit=2`);
    expect(completed.body.jobs.length).toBeLessThanOrEqual(2);
    expect(completed.body.jobs.every((j: any) => j.status === "completed")).toBe(true);

    const stats = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/stats`);
    expect(stats.body).toMatchObject({ available: true, waiting: expect.any(Number), active: expect.any(Number), failed: expect.any(Number) });
    expect(stats.body.completed).toBe(completed.body.total);
  });
});
