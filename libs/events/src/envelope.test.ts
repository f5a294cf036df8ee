import { describe, expect, it } from "vitest";
import { createEvent, createRequestEvent, deriveEventId, isJobId, newJobId, terminalEventId } from "./envelope.js";

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

describe("event ids", () => {
  const jobId = newJobId();
  const request = createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
    upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null },
  });
  const hash = "0x" + "ab".repeat(32);
  const hashed = createEvent("content.hashed", { jobId, request: request.data.request, contentHash: hash, size: 1, startedAt: request.occurredAt, attempts: 1 }, request);
  const failedAt = (cause: typeof request | typeof hashed, stage: "hashing" | "manifest") =>
    createEvent("verification.failed", { jobId, jobType: "verify", stage, code: "E_INTERNAL", message: "x", attempts: 1 }, cause);

  it("derives a non-terminal event's id from its cause and type", () => {
    expect(hashed.id).toBe(deriveEventId(request.id, "content.hashed"));
    expect(hashed.id).not.toBe(deriveEventId(newJobId(), "content.hashed"));
  });

  it("gives every terminal event of a job one id, whatever its type, cause or stage", () => {
    const completed = createEvent(
      "verification.completed",
      {
        jobId,
        jobType: "verify",
        contentHash: hash,
        result: {
          status: "FAIL",
          reasons: ["not_registered"],
          fileHash: hash,
          recovered: null,
          onchain: { creator: "0x" + "0".repeat(40), timestamp: 0, manifestURI: "", revoked: false },
          checks: { manifestHashOk: true, creatorOk: false, manifestOk: false, didOk: true },
        },
        attempts: 1,
      },
      hashed,
    );
    const ids = new Set([completed.id, failedAt(request, "hashing").id, failedAt(hashed, "manifest").id]);
    expect([...ids]).toEqual([terminalEventId(jobId)]);
    expect(isJobId(terminalEventId(jobId))).toBe(true);
    expect(terminalEventId(newJobId())).not.toBe(terminalEventId(jobId));
    // Not any other event's id: neither the request's nor a derived one.
    expect([jobId, hashed.id]).not.toContain(terminalEventId(jobId));
  });
});
