import { createEvent, createRequestEvent, type JobRequest } from "@veriflow/events";
import { failedEventFor, type PipelineRun } from "@veriflow/pipeline";
import { PermanentError } from "@veriflow/errors";
import { describe, expect, it } from "vitest";
import { FALLBACK_CALLBACK_REASON, fallbackAnswer } from "./fallback-pipeline.js";

const HASH = "0x" + "ab".repeat(32);
const request = (callbackUrl: string | null = null): JobRequest => ({ jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl });
const requested = (req: JobRequest) =>
  createRequestEvent("job-1", { jobId: "job-1", request: req, upload: { bucket: "in-process", name: "job-1", size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } });

function completed(req: JobRequest): PipelineRun {
  const first = requested(req);
  const result = { status: "OK" as const, reasons: [], fileHash: HASH, recovered: null, onchain: { creator: "0x" + "1".repeat(40), timestamp: 1, manifestURI: req.manifestUri, revoked: false, blockNumber: 7 }, checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true } };
  return { outcome: createEvent("verification.completed", { jobId: "job-1", jobType: "verify", contentHash: HASH, result, attempts: 1 }, first), events: [first] };
}

describe("fallbackAnswer", () => {
  it("answers the verdict, as the old system did", () => {
    expect(fallbackAnswer(completed(request()), request())).toEqual({ result: expect.objectContaining({ status: "OK" }) });
  });

  it("says why a callbackUrl is not called: nothing is recorded while the queue is down", () => {
    const req = request("https://hooks.example.com/x");
    expect(fallbackAnswer(completed(req), req)).toMatchObject({ callback: { sent: false, reason: FALLBACK_CALLBACK_REASON } });
  });

  it("answers a failed verification as the edge error of its code, naming the stage", () => {
    const req = request();
    const failed = failedEventFor("chain-check", requested(req), new PermanentError("E_REGISTRY_INCOMPATIBLE", "no entries()"), 1);
    expect(() => fallbackAnswer({ outcome: failed, events: [] }, req)).toThrow(
      expect.objectContaining({ status: 422, code: "E_REGISTRY_INCOMPATIBLE", expose: true, details: { stage: "chain-check" } }),
    );
  });
});
