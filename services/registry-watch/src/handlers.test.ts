import { describe, expect, it } from "vitest";
import { createEvent, createRequestEvent, type JobRequest } from "@veriflow/events";
import { changedAtOf, knownVerdictOf, reverifyEvent, verdictChanged } from "./handlers.js";
import type { RegistryLog } from "./read-window.js";

describe("verdictChanged", () => {
  it("compares status and the set of reasons, not the block a verdict was read at", () => {
    const v = (status: "OK" | "WARN" | "FAIL", reasons: ("revoked" | "uri_mismatch" | "creator_mismatch")[], blockNumber = 1) => ({ status, reasons, blockNumber });
    expect(verdictChanged(v("OK", []), v("OK", [], 9))).toBe(false);
    expect(verdictChanged(v("OK", []), v("FAIL", ["revoked"]))).toBe(true);
    expect(verdictChanged(v("FAIL", ["revoked", "creator_mismatch"]), v("FAIL", ["creator_mismatch", "revoked"]))).toBe(false);
    expect(verdictChanged(v("FAIL", ["revoked"]), v("FAIL", ["creator_mismatch"]))).toBe(true);
    expect(verdictChanged(v("WARN", ["uri_mismatch"]), v("WARN", []))).toBe(true);
  });
});

describe("changedAtOf", () => {
  const a = "0x" + "a".repeat(64);
  const b = "0x" + "b".repeat(64);
  const log = (contentHash: string, blockNumber: number): RegistryLog => ({
    contentHash,
    blockNumber,
    blockHash: "0x" + blockNumber.toString(16).padStart(64, "0"),
    logIndex: 0,
    txHash: "0x" + "c".repeat(64),
    kind: "revoked",
    manifestURI: "",
  });

  it("a log in blocks not read before: verdicts read before its block have not seen it", () => {
    expect(changedAtOf([log(a, 120), log(a, 125), log(b, 130)], [], 110)).toEqual(new Map([[a, 125], [b, 130]]));
  });

  it("a log that left the chain, or one added in blocks already read (a reorganisation): every verdict of its content", () => {
    // Block 105 was read by the pass that moved the checkpoint to 110: a log there now is on
    // blocks that replaced those read, and a verdict read at 108 may have been read on them.
    expect(changedAtOf([log(a, 105)], [], 110).get(a)).toBe(Number.MAX_SAFE_INTEGER);
    expect(changedAtOf([log(a, 120)], [log(b, 104)], 110)).toEqual(new Map([[a, 120], [b, Number.MAX_SAFE_INTEGER]]));
  });
});

describe("reverifyEvent", () => {
  const jobId = "55555555-5555-4555-8555-555555555555";
  const request: JobRequest = { jobType: "verify", manifestUri: "https://m.example/x.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: "https://cb.example/" };
  const req = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } }, new Date(0), "acme");
  const hashed = createEvent("content.hashed", { jobId, request, contentHash: "0x" + "a".repeat(64), size: 1, startedAt: new Date(0).toISOString(), attempts: 3 }, req);
  const now = new Date("2026-01-01T00:00:00Z");

  it("re-issues the job's content.hashed as the new run, bulk, first attempt, in the job's tenant, with its callback", () => {
    const e = reverifyEvent(hashed, 4, "cause-id", now);
    expect(e).toMatchObject({ type: "content.hashed", correlationId: jobId, causationId: "cause-id", run: 4, tenant: "acme", callback: true });
    expect(e.data).toMatchObject({ jobId, contentHash: hashed.data.contentHash, attempts: 1, startedAt: now.toISOString(), request: { ...request, priority: "bulk" } });
  });

  it("the same run asked for twice has one id (the stream keeps one); another run has another", () => {
    expect(reverifyEvent(hashed, 4, "a", now).id).toBe(reverifyEvent(hashed, 4, "b", new Date()).id);
    expect(reverifyEvent(hashed, 5, "a", now).id).not.toBe(reverifyEvent(hashed, 4, "a", now).id);
  });
});

describe("knownVerdictOf", () => {
  const result = {
    status: "OK" as const,
    reasons: [],
    fileHash: "0x" + "a".repeat(64),
    recovered: null,
    onchain: { creator: "0x" + "1".repeat(40), timestamp: 1, manifestURI: "https://m.example/x.json", revoked: false, blockNumber: 7 },
    checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
  };

  it("keeps a run's own verdict with the block it was read at", () => {
    expect(knownVerdictOf("job-a", 2, result)).toEqual({ jobId: "job-a", run: 2, decidedAtBlock: 7, result });
  });

  it("keeps no verdict that was itself answered from a known one, nor one read at no known block", () => {
    expect(knownVerdictOf("job-b", 1, { ...result, reusedFrom: "job-a", decidedAtBlock: 7 })).toBeNull();
    expect(knownVerdictOf("job-c", 1, { ...result, onchain: { ...result.onchain, blockNumber: null } })).toBeNull();
  });
});
