import { checkRpcUrl } from "@veriflow/adapters";
import {
  createEvent,
  createRequestEvent,
  terminalEventId,
  type Envelope,
  type JobRequest,
  type JobType,
  type OnchainEntry,
  type Registration,
} from "@veriflow/events";
import { PermanentError, TransientError } from "@veriflow/errors";
import { createSilentLogger } from "@veriflow/platform";
import type { HandlerContext } from "@veriflow/pipeline";
import { formatDid } from "@veriflow/verify";
import { describe, expect, it } from "vitest";
import type { ChainAccess } from "@veriflow/verify";
import { createHandlers, type ChainCheckDeps } from "./handlers.js";

const T0 = new Date("2025-01-01T00:00:00.000Z");
const NOW = new Date("2025-01-01T00:00:09.000Z");
const HASH = "0x" + "ab".repeat(32);
const CREATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const REGISTRY = "0x" + "2".repeat(40);
const URI = "https://example.com/manifest.json";

const registration: Registration = { txHash: "0x" + "11".repeat(32), blockNumber: 7, blockHash: "0x" + "22".repeat(32), logIndex: 0 };
const registered: OnchainEntry = { creator: CREATOR, timestamp: 1_700_000_000, manifestURI: URI, revoked: false, blockNumber: 7 };
const unregistered: OnchainEntry = { creator: "0x" + "0".repeat(40), timestamp: 0, manifestURI: "", revoked: false, blockNumber: 7 };

function checkedEvent(jobType: JobType, rpcUrl: string | null = null, jobId = "job-1"): Envelope<"manifest.checked"> {
  const request: JobRequest = { jobType, manifestUri: URI, registryAddress: REGISTRY, rpcUrl, callbackUrl: null };
  const req = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } }, T0);
  const hashed = createEvent("content.hashed", { jobId, request, contentHash: HASH, size: 1, startedAt: T0.toISOString(), attempts: 1 }, req, T0);
  return createEvent(
    "manifest.checked",
    {
      jobId,
      request,
      contentHash: HASH,
      manifest: {
        uri: URI,
        cid: null,
        contentHash: HASH,
        contentUri: null,
        creatorDid: formatDid(31337, CREATOR),
        createdAt: T0.toISOString(),
        signature: "0x" + "3".repeat(130),
      },
      recovered: CREATOR,
      checks: { manifestHashOk: true, signatureOk: true, didOk: true },
      attempts: 1,
    },
    hashed,
    T0,
  );
}

const ctx = (attempt = 1): HandlerContext => ({ attempt, log: createSilentLogger() });

function fakeDeps(opts: { entry?: OnchainEntry; rpcUrlAllowlist?: string[]; chain?: Partial<ChainAccess> } = {}) {
  const calls = { chainFor: [] as (string | null)[], readEntry: [] as [string, string][], findRegistration: [] as [string, string][], chainId: 0 };
  const chain: ChainAccess = {
    async readEntry(registry, contentHash) {
      calls.readEntry.push([registry, contentHash]);
      return opts.entry ?? registered;
    },
    async findRegistration(registry, contentHash) {
      calls.findRegistration.push([registry, contentHash]);
      return registration;
    },
    async chainId() {
      calls.chainId++;
      return 31337;
    },
    ...opts.chain,
  };
  const deps: ChainCheckDeps = {
    chainFor(rpcUrl) {
      calls.chainFor.push(rpcUrl);
      return chain;
    },
    checkRpcUrl: (url) => checkRpcUrl(url, { rpcUrl: "http://127.0.0.1:8545", rpcUrlAllowlist: opts.rpcUrlAllowlist ?? ["*"] }),
    now: () => NOW,
  };
  return { deps, calls };
}

async function run(input: Envelope<"manifest.checked">, deps: ChainCheckDeps, attempt = 1) {
  const out = await createHandlers(deps).onManifestChecked(input, ctx(attempt));
  expect(out).toHaveLength(1);
  const ev = out[0]!;
  if (ev.type !== "verification.completed") throw new Error(`expected verification.completed, got ${ev.type}`);
  return ev;
}

describe("chain-check onManifestChecked", () => {
  it("verify job: reads the entry on the configured chain and emits verification.completed", async () => {
    const { deps, calls } = fakeDeps();
    const input = checkedEvent("verify");
    const ev = await run(input, deps, 2);

    expect(calls.chainFor).toEqual([null]);
    expect(calls.readEntry).toEqual([[REGISTRY, HASH]]);
    expect(calls.findRegistration).toEqual([]);
    expect(calls.chainId).toBe(0);
    // A terminal event: the job's one terminal id, whichever stage ends it.
    expect(ev.id).toBe(terminalEventId("job-1"));
    expect(ev.correlationId).toBe("job-1");
    expect(ev.causationId).toBe(input.id);
    expect(ev.occurredAt).toBe(NOW.toISOString());
    expect(ev.data).toMatchObject({ jobId: "job-1", jobType: "verify", contentHash: HASH, attempts: 2 });
    expect(ev.data.result).toEqual({
      status: "OK",
      reasons: [],
      fileHash: HASH,
      recovered: CREATOR,
      onchain: registered,
      checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
    });
    expect(ev.data.result).not.toHaveProperty("proofVersion");
  });

  it("verify job on an unregistered hash: FAIL not_registered", async () => {
    const { deps } = fakeDeps({ entry: unregistered });
    const ev = await run(checkedEvent("verify"), deps);
    expect(ev.data.result.status).toBe("FAIL");
    expect(ev.data.result.reasons).toContain("not_registered");
  });

  it("proof job: adds chain id, registration and manifest", async () => {
    const { deps, calls } = fakeDeps();
    const input = checkedEvent("proof");
    const ev = await run(input, deps);

    expect(calls.findRegistration).toEqual([[REGISTRY, HASH]]);
    expect(calls.chainId).toBe(1);
    expect(ev.data.jobType).toBe("proof");
    expect(ev.data.result).toMatchObject({
      status: "OK",
      proofVersion: "veriflow.proof/1",
      generatedAt: NOW.toISOString(),
      chainId: 31337,
      registryAddress: REGISTRY,
      registration,
      txHash: registration.txHash,
      blockNumber: 7,
      manifest: input.data.manifest,
    });
  });

  it("proof job on an unregistered hash: does not search for the registration", async () => {
    const { deps, calls } = fakeDeps({ entry: unregistered });
    const ev = await run(checkedEvent("proof"), deps);
    expect(calls.findRegistration).toEqual([]);
    expect(ev.data.result).toMatchObject({ status: "FAIL", proofVersion: "veriflow.proof/1", registration: null, txHash: null, blockNumber: null });
  });

  it("passes an allowed per-job rpcUrl to chainFor", async () => {
    const { deps, calls } = fakeDeps({ rpcUrlAllowlist: ["https://RPC.example.com"] });
    await run(checkedEvent("verify", "https://rpc.example.com/"), deps);
    expect(calls.chainFor).toEqual(["https://rpc.example.com/"]);
  });

  it("refuses a per-job rpcUrl that is not allowed: PermanentError E_RPC_URL_NOT_ALLOWED, no chain access", async () => {
    const { deps, calls } = fakeDeps({ rpcUrlAllowlist: ["https://rpc.example.com/"] });
    const p = createHandlers(deps).onManifestChecked(checkedEvent("verify", "https://evil.example.com/"), ctx());
    await expect(p).rejects.toBeInstanceOf(PermanentError);
    await expect(p).rejects.toMatchObject({ code: "E_RPC_URL_NOT_ALLOWED" });
    expect(calls.chainFor).toEqual([]);
    expect(calls.readEntry).toEqual([]);
  });

  it("lets chain errors propagate unchanged", async () => {
    const err = new TransientError("E_RPC_UNAVAILABLE", "timeout");
    const { deps } = fakeDeps({ chain: { readEntry: () => Promise.reject(err) } });
    await expect(createHandlers(deps).onManifestChecked(checkedEvent("verify"), ctx())).rejects.toBe(err);
    const { deps: d2 } = fakeDeps({ chain: { findRegistration: () => Promise.reject(err) } });
    await expect(createHandlers(d2).onManifestChecked(checkedEvent("proof"), ctx())).rejects.toBe(err);
  });
});
