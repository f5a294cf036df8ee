import { Wallet } from "ethers";
import { checkRpcUrl, type KnownAnswer } from "@veriflow/adapters";
import { createRequestEvent, stageNames, type JobRequest, type OnchainEntry } from "@veriflow/events";
import { PermanentError } from "@veriflow/errors";
import { defineStage, loadStageModules, runInProcess, type StageHandlers } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { createSignedManifest } from "@veriflow/verify";
import { describe, expect, it } from "vitest";
import { createHandlers as chainCheckHandlers } from "../../services/chain-check/src/handlers.js";
import { createHandlers as hashingHandlers } from "../../services/hashing/src/handlers.js";
import { createHandlers as manifestHandlers } from "../../services/manifest/src/handlers.js";

// The whole chain of stage handlers, run by the in-process runner with plain fakes for
// their I/O: what the gateway's fallback runs, and what the services run one stage each.

// Hardhat dev account #0: a well-known key, never used for anything real.
const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const CREATOR = new Wallet(KEY).address;
const HASH = "0x" + "ab".repeat(32);
const URI = "https://example.com/manifest.json";
const NOW = new Date("2025-01-01T00:00:00.000Z");
const log = createSilentLogger();

const request = (over: Partial<JobRequest> = {}): JobRequest => ({
  jobType: "verify",
  manifestUri: URI,
  registryAddress: "0x" + "2".repeat(40),
  rpcUrl: null,
  callbackUrl: "https://hooks.example.com/veriflow",
  ...over,
});

function requested(req: JobRequest, jobId = "job-1") {
  return createRequestEvent(jobId, { jobId, request: req, upload: { bucket: "in-process", name: jobId, size: 5, fileName: "a.txt", contentType: "text/plain", nuid: null, chunks: null, digest: null } }, NOW);
}

const registered: OnchainEntry = { creator: CREATOR, timestamp: 1_700_000_000, manifestURI: URI, revoked: false, blockNumber: 7 };

interface KnownOpts {
  /** The record the manifest stage finds (its own check says it holds). */
  pointAt?: { jobId: string; run: number; decidedAtBlock: number };
  /** What chain-check's own check of the record and the chain answers. */
  confirm?: KnownAnswer;
}

function handlers(opts: { entry?: OnchainEntry; fetchManifest?: () => Promise<{ bytes: Uint8Array; cid: string | null }>; known?: KnownOpts } = {}): StageHandlers {
  const manifest = createSignedManifest({ privateKey: KEY, contentHash: HASH, chainId: 31337, createdAt: NOW });
  const chain = {
    readEntry: async () => opts.entry ?? registered,
    findRegistration: async () => null,
    chainId: async () => 31337,
  };
  return {
    hashing: hashingHandlers({ hashUpload: async () => ({ sha256Hex: HASH, size: 5 }), now: () => NOW }).onVerificationRequested,
    manifest: manifestHandlers({
      fetchManifest: opts.fetchManifest ?? (async () => ({ bytes: new TextEncoder().encode(JSON.stringify(manifest)), cid: null })),
      findKnown: opts.known?.pointAt && (async () => opts.known!.pointAt!),
      now: () => NOW,
    }).onContentHashed,
    "chain-check": chainCheckHandlers({
      chainFor: () => chain,
      checkRpcUrl: (url) => checkRpcUrl(url, { rpcUrl: "http://127.0.0.1:8545", rpcUrlAllowlist: [] }),
      answerFromKnown: opts.known?.confirm && (async () => opts.known!.confirm!),
      now: () => NOW,
    }).onManifestChecked,
  };
}

describe("the stage handlers chained by the in-process runner", () => {
  it("carries a registered file through every stage to verification.completed OK, each event caused by the one before", async () => {
    const req = request();
    const run = await runInProcess(handlers(), requested(req), { log });

    expect(run.events.map((e) => e.type)).toEqual(["verification.requested", "content.hashed", "manifest.checked", "verification.completed"]);
    for (let i = 1; i < run.events.length; i++) {
      expect(run.events[i]!.causationId).toBe(run.events[i - 1]!.id);
      expect(run.events[i]!.correlationId).toBe("job-1");
    }
    expect(run.outcome.type).toBe("verification.completed");
    if (run.outcome.type !== "verification.completed") return;
    expect(run.outcome.data.result).toMatchObject({ status: "OK", reasons: [], fileHash: HASH, recovered: CREATOR });
    // Every field of the request reaches the last stage (the callbackUrl included).
    const checked = run.events[2]!;
    expect(checked.type === "manifest.checked" && checked.data.request).toEqual(req);
  });

  it("answers from a known verdict only through chain-check: manifest points, chain-check completes", async () => {
    const pointAt = { jobId: "job-0", run: 1, decidedAtBlock: 7 };
    const reused = { status: "OK" as const, reasons: [], fileHash: HASH, recovered: CREATOR, onchain: registered, checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true } };
    const confirm: KnownAnswer = { reuse: true, result: { ...reused, reusedFrom: "job-0", decidedAtBlock: 7 }, known: { ...pointAt, result: reused } };
    const fetched: string[] = [];
    const run = await runInProcess(handlers({ known: { pointAt, confirm }, fetchManifest: async () => (fetched.push("x"), Promise.reject(new Error("not fetched"))) }), requested(request()), { log });
    expect(run.events.map((e) => e.type)).toEqual(["verification.requested", "content.hashed", "manifest.checked", "verification.completed"]);
    expect(fetched).toEqual([]);
    expect(run.outcome.type === "verification.completed" && run.outcome.data.result).toMatchObject({ reusedFrom: "job-0" });
  });

  it("sends a job whose known verdict no longer holds at chain-check back through the manifest stage for a full run, once", async () => {
    const run = await runInProcess(handlers({ known: { pointAt: { jobId: "job-0", run: 1, decidedAtBlock: 7 }, confirm: { reuse: false, why: "entry_changed" } } }), requested(request()), { log });
    expect(run.events.map((e) => e.type)).toEqual(["verification.requested", "content.hashed", "manifest.checked", "content.hashed", "manifest.checked", "verification.completed"]);
    const back = run.events[3]!;
    expect(back.type === "content.hashed" && back.data.request.fresh).toBe(true);
    expect(run.outcome.type === "verification.completed" && run.outcome.data.result).toMatchObject({ status: "OK" });
    expect(run.outcome.type === "verification.completed" && run.outcome.data.result.reusedFrom).toBeUndefined();
  });

  it("reaches FAIL not_registered as a completed job, not a failure", async () => {
    const run = await runInProcess(handlers({ entry: { creator: "0x" + "0".repeat(40), timestamp: 0, manifestURI: "", revoked: false, blockNumber: 7 } }), requested(request()), { log });
    expect(run.outcome.type).toBe("verification.completed");
    expect(run.outcome.type === "verification.completed" && run.outcome.data.result).toMatchObject({ status: "FAIL", reasons: ["not_registered"] });
  });

  it("ends with one verification.failed naming the stage and the error's code when a stage gives up", async () => {
    const h = handlers({ fetchManifest: () => Promise.reject(new PermanentError("E_MANIFEST_NOT_FOUND", "404 from the manifest host")) });
    const run = await runInProcess(h, requested(request()), { log });

    expect(run.events.map((e) => e.type)).toEqual(["verification.requested", "content.hashed", "verification.failed"]);
    expect(run.outcome.data).toMatchObject({ jobId: "job-1", jobType: "verify", stage: "manifest", code: "E_MANIFEST_NOT_FOUND", attempts: 1 });
  });

  it("applies the chain-check stage's own guard: a per-job rpcUrl the configuration refuses fails the job", async () => {
    const run = await runInProcess(handlers(), requested(request({ rpcUrl: "https://rpc.example.com" })), { log });
    expect(run.outcome.data).toMatchObject({ stage: "chain-check", code: "E_RPC_URL_NOT_ALLOWED" });
  });

  it("records an unexpected error as E_INTERNAL, never as a verdict", async () => {
    const h = handlers({ fetchManifest: () => Promise.reject(new TypeError("boom")) });
    const run = await runInProcess(h, requested(request()), { log });
    expect(run.outcome.data).toMatchObject({ stage: "manifest", code: "E_INTERNAL" });
    // Its own text may name internals: it goes to the log, not into the job's failure.
    expect(run.outcome.type === "verification.failed" && run.outcome.data.message).not.toContain("boom");
  });

  it("stops before the next stage once aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(runInProcess(handlers(), requested(request()), { log, signal: ac.signal })).rejects.toThrow();
  });
});

describe("stage modules, found by the pipeline descriptor", () => {
  it("loads every stage's module from @veriflow/<stage>/stage, each declaring its own stage", async () => {
    const modules = await loadStageModules();
    expect(Object.keys(modules).sort()).toEqual([...stageNames].sort());
    for (const name of stageNames) {
      expect(modules[name].stage).toBe(name);
      expect(modules[name].defaultConcurrency).toBeGreaterThan(0);
    }
  });
});

describe("the descriptor types each stage's handler", () => {
  it("does not compile a stage whose handler takes another stage's event (checked by npm run typecheck)", () => {
    const wrong = defineStage({
      stage: "hashing",
      defaultConcurrency: 1,
      readSettings: () => ({}),
      create: () => ({
        // @ts-expect-error: the hashing stage consumes verification.requested, not content.hashed
        handle: manifestHandlers({ fetchManifest: () => Promise.reject(new Error("unused")), now: () => NOW }).onContentHashed,
        close: async () => {},
      }),
    });
    expect(wrong.stage).toBe("hashing");
  });
});
