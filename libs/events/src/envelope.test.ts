import { describe, expect, it } from "vitest";
import { createEvent, createRequestEvent, createRetryEvent, decodeEvent, deriveEventId, encodeEvent, isJobId, newJobId, runOf } from "./envelope.js";

describe("isJobId", () => {
  it("accepts the ids this system mints, in any case", () => {
    const id = newJobId();
    expect(isJobId(id)).toBe(true);
    expect(isJobId(id.toUpperCase())).toBe(true);
    expect(isJobId(deriveEventId(id, "content.hashed"))).toBe(true);
  });

  it("refuses anything else", () => {
    const id = newJobId();
    for (const bad of ["", "not-a-job", id.slice(1), `${id}x`, ` ${id}`, id.replaceAll("-", ""), `${id}\n`, id.replace(/^./, "g")]) {
      expect(isJobId(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe("runs", () => {
  const jobId = newJobId();
  const request = { jobType: "verify" as const, manifestUri: "ipfs://bafy/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null };
  const requested = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } });
  const hashed = createEvent("content.hashed", { jobId, request, contentHash: "0x" + "a".repeat(64), size: 1, startedAt: new Date().toISOString(), attempts: 1 }, requested);
  const failedId = deriveEventId(hashed.id, "verification.failed");

  it("run 1 events carry no run field, as before retries existed", () => {
    expect("run" in requested).toBe(false);
    expect("run" in hashed).toBe(false);
    expect(runOf(hashed)).toBe(1);
  });

  it("a retry re-issues the input under an id of the job and run, and its chain carries the run", () => {
    const retry = createRetryEvent(hashed, 2, failedId);
    expect(retry).toMatchObject({ type: "content.hashed", correlationId: jobId, causationId: failedId, run: 2, data: hashed.data });
    expect(retry.id).not.toBe(hashed.id);
    expect(isJobId(retry.id)).toBe(true);
    // The same run twice: the same id (the stream drops the second); another run: another id.
    expect(createRetryEvent(hashed, 2, failedId).id).toBe(retry.id);
    expect(createRetryEvent(hashed, 3, failedId).id).not.toBe(retry.id);
    const next = createEvent("verification.failed", { jobId, jobType: "verify", stage: "manifest", code: "E_MANIFEST_NOT_FOUND", message: "404", attempts: 1 }, retry);
    expect(next.run).toBe(2);
    expect(next.id).not.toBe(failedId);
    expect(decodeEvent(encodeEvent(next)).run).toBe(2);
    expect(() => createRetryEvent(hashed, 1, failedId)).toThrow(RangeError);
  });
});
