import { checkRpcUrl, type KnownAnswer } from "@veriflow/adapters";
import { createEvent, createRequestEvent, deriveEventId, runOf, terminalEventId, type Envelope, type JobRequest, type KnownVerdict, type VerifyResult } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import type { HandlerContext } from "@veriflow/pipeline";
import type { ChainAccess } from "@veriflow/verify";
import { describe, expect, it } from "vitest";
import { createHandlers, type ChainCheckDeps } from "./handlers.js";

// chain-check given a manifest.checked that points at a known verdict (no manifest): it completes
// the job only with what its own check of the record and the chain answers, else sends it back.

const T0 = new Date("2025-01-01T00:00:00.000Z");
const NOW = new Date("2025-01-01T00:00:09.000Z");
const HASH = "0x" + "ab".repeat(32);
const CREATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const URI = "https://example.com/manifest.json";
const request: JobRequest = { jobType: "verify", manifestUri: URI, registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null, priority: "bulk" };
const record: KnownVerdict = {
  jobId: "job-0",
  run: 1,
  decidedAtBlock: 12,
  result: {
    status: "OK",
    reasons: [],
    fileHash: HASH,
    recovered: CREATOR,
    onchain: { creator: CREATOR, timestamp: 1_700_000_000, manifestURI: URI, revoked: false, blockNumber: 12 },
    checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
  },
};
const reused: VerifyResult = { ...record.result, reusedFrom: "job-0", decidedAtBlock: 12 };

function pointingEvent(jobId = "job-1"): Envelope<"manifest.checked"> {
  const req = createRequestEvent(jobId, { jobId, request, upload: null, contentHash: HASH }, T0, "acme");
  const hashed = createEvent("content.hashed", { jobId, request, contentHash: HASH, size: 0, startedAt: T0.toISOString(), attempts: 2, hashGiven: true }, req, T0);
  const known = { jobId: record.jobId, run: record.run, decidedAtBlock: record.decidedAtBlock, hashed: { size: 0, startedAt: T0.toISOString(), hashGiven: true as const } };
  return createEvent("manifest.checked", { jobId, request, contentHash: HASH, known, attempts: 1 }, hashed, T0);
}

const ctx = (attempt = 1): HandlerContext => ({ attempt, log: createSilentLogger() });
const noChain = (): ChainAccess => {
  throw new Error("a pointed-at verdict is confirmed by the known-answer check, not by reading the entry");
};

function depsAnswering(answer: KnownAnswer | undefined) {
  const asked: string[] = [];
  const deps: ChainCheckDeps = {
    chainFor: noChain,
    checkRpcUrl: (url) => checkRpcUrl(url, { rpcUrl: "http://127.0.0.1:8545", rpcUrlAllowlist: ["*"] }),
    answerFromKnown:
      answer &&
      (async (event) => {
        expect(event.data.contentHash).toBe(HASH);
        asked.push(event.data.contentHash);
        return answer;
      }),
    now: () => NOW,
  };
  return { deps, asked };
}

describe("chain-check onManifestChecked, a pointer to a known verdict", () => {
  it("completes with the reused verdict once its own check of the question's record holds", async () => {
    const { deps, asked } = depsAnswering({ reuse: true, result: reused, known: record });
    const input = pointingEvent();
    const out = await createHandlers(deps).onManifestChecked(input, ctx(3));
    expect(asked).toEqual([HASH]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: "verification.completed", id: terminalEventId("job-1", 1), causationId: input.id, tenant: "acme" });
    expect(out[0]!.data).toEqual({ jobId: "job-1", jobType: "verify", contentHash: HASH, result: reused, attempts: 3 });
  });

  for (const why of ["entry_changed", "not_this_question", "unknown", "not_checked"] as const) {
    it(`sends the job back for a full run (same job and run, fresh, derived id) when it does not hold: ${why}`, async () => {
      const { deps } = depsAnswering({ reuse: false, why });
      const input = pointingEvent();
      const out = await createHandlers(deps).onManifestChecked(input, ctx(2));
      expect(out).toHaveLength(1);
      const back = out[0]!;
      if (back.type !== "content.hashed") throw new Error(`expected content.hashed, got ${back.type}`);
      expect(back.id).toBe(deriveEventId(input.id, "content.hashed"));
      expect(back).toMatchObject({ correlationId: "job-1", causationId: input.id, tenant: "acme", occurredAt: NOW.toISOString() });
      expect(runOf(back)).toBe(runOf(input));
      expect(back.data).toEqual({ jobId: "job-1", request: { ...request, fresh: true }, contentHash: HASH, size: 0, startedAt: T0.toISOString(), attempts: 1, hashGiven: true });
      // A redelivery sends it back under the same id: the stream's duplicate window drops the second.
      expect((await createHandlers(deps).onManifestChecked(input, ctx(3)))[0]!.id).toBe(back.id);
    });
  }

  it("does not even look for a pointer the manifest stage would never send (a later run, a fresh request, a per-job chain)", async () => {
    const { deps, asked } = depsAnswering({ reuse: true, result: reused, known: record });
    const pointing = pointingEvent();
    const inputs: Envelope<"manifest.checked">[] = [
      { ...pointing, run: 2 },
      { ...pointing, data: { ...pointing.data, request: { ...request, fresh: true } } },
      { ...pointing, data: { ...pointing.data, request: { ...request, rpcUrl: "https://rpc.example" } } },
    ];
    for (const input of inputs) {
      const [back] = await createHandlers(deps).onManifestChecked(input, ctx());
      expect(back).toMatchObject({ type: "content.hashed", data: { request: { fresh: true } } });
      expect(runOf(back!)).toBe(runOf(input));
    }
    expect(asked).toEqual([]);
  });

  it("never confirms a pointer where no verdicts are kept (the in-process fallback): sends the job back", async () => {
    const { deps } = depsAnswering(undefined);
    const [back] = await createHandlers(deps).onManifestChecked(pointingEvent(), ctx());
    expect(back).toMatchObject({ type: "content.hashed", data: { request: { fresh: true } } });
  });
});
