import { describe, expect, it } from "vitest";
import { EventDecodeError, createEvent, createRequestEvent, createRetryEvent, decodeEvent, decodeEventFrom, deriveEventId, encodeEvent, isJobId, newJobId, runOf, terminalEventId } from "./envelope.js";
import { RECHECK_EVERY_BOUNDS } from "./catalog.js";
import { tenantOf } from "./tenant.js";

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

describe("a job's re-check schedule", () => {
  const jobId = newJobId();
  const request = { jobType: "verify" as const, manifestUri: "ipfs://bafy/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null };
  const requested = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } });
  const hashed = createEvent("content.hashed", { jobId, request, contentHash: "0x" + "a".repeat(64), size: 1, startedAt: new Date().toISOString(), attempts: 1 }, requested);
  // Written on the wire as a publisher that skips the gateway's checks would.
  const hashedWith = (recheckEverySeconds: number) => Buffer.from(JSON.stringify({ ...hashed, data: { ...hashed.data, request: { ...request, recheckEverySeconds } } }));

  it("is decoded within RECHECK_EVERY_BOUNDS", () => {
    for (const every of [RECHECK_EVERY_BOUNDS.min, 3600, RECHECK_EVERY_BOUNDS.max]) {
      expect(decodeEvent(hashedWith(every)).data).toMatchObject({ request: { recheckEverySeconds: every } });
    }
  });

  it("is refused outside them, so that an event published around the gateway cannot re-run its job every second", () => {
    for (const every of [1, 3, RECHECK_EVERY_BOUNDS.min - 1, RECHECK_EVERY_BOUNDS.max + 1, 2 ** 32]) {
      expect(() => decodeEvent(hashedWith(every)), String(every)).toThrow(EventDecodeError);
    }
  });
});

describe("event ids", () => {
  const jobId = newJobId();
  const request = createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
    upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null },
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
          onchain: { creator: "0x" + "0".repeat(40), timestamp: 0, manifestURI: "", revoked: false, blockNumber: 7 },
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

describe("terminal ids and runs", () => {
  it("gives each run of a job its own terminal id, run 1 the one it always had", () => {
    const jobId = newJobId();
    expect(terminalEventId(jobId, 1)).toBe(terminalEventId(jobId));
    expect(terminalEventId(jobId, 2)).not.toBe(terminalEventId(jobId));
    expect(terminalEventId(jobId, 3)).not.toBe(terminalEventId(jobId, 2));
  });
});

describe("tenants", () => {
  const jobId = newJobId();
  const request = { jobType: "verify" as const, manifestUri: "ipfs://bafy/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null };
  const upload = { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null };
  const hashedData = { jobId, request, contentHash: "0x" + "a".repeat(64), size: 1, startedAt: new Date().toISOString(), attempts: 1 };

  it("a request names its tenant (default unless told), and every event it causes carries it, retries too", () => {
    expect(createRequestEvent(jobId, { jobId, request, upload }).tenant).toBe("default");
    const requested = createRequestEvent(jobId, { jobId, request, upload }, new Date(), "acme");
    const hashed = createEvent("content.hashed", hashedData, requested);
    const failed = createEvent("verification.failed", { jobId, jobType: "verify", stage: "manifest", code: "E_INTERNAL", message: "x", attempts: 1 }, hashed);
    const retried = createRetryEvent(hashed, 2, failed.id);
    for (const e of [requested, hashed, failed, retried, createEvent("manifest.checked", { ...hashedData, manifest: { uri: "u", cid: null, contentHash: hashedData.contentHash, contentUri: null, creatorDid: "d", createdAt: "c", signature: "s" }, recovered: null, checks: { manifestHashOk: true, signatureOk: true, didOk: true } }, retried)]) {
      expect(e.tenant, e.type).toBe("acme");
      expect(decodeEvent(encodeEvent(e)).tenant).toBe("acme");
    }
    // The tenant is not part of an id: the same cause makes the same ids whoever owns it.
    expect(hashed.id).toBe(deriveEventId(jobId, "content.hashed"));
  });

  it("manifest.checked is a checked manifest or a pointer to a known verdict, never both, never neither", () => {
    const hashed = createEvent("content.hashed", hashedData, createRequestEvent(jobId, { jobId, request, upload }));
    const check = { manifest: { uri: "u", cid: null, contentHash: hashedData.contentHash, contentUri: null, creatorDid: "d", createdAt: "c", signature: "s" }, recovered: null, checks: { manifestHashOk: true, signatureOk: true, didOk: true } };
    const known = { jobId: "job-0", run: 1, decidedAtBlock: 7, hashed: { size: 1, startedAt: hashedData.startedAt } };
    const base = { jobId, request, contentHash: hashedData.contentHash, attempts: 1 };
    // An older event (no `known`) and a pointer both decode.
    expect(decodeEvent(encodeEvent(createEvent("manifest.checked", { ...base, ...check }, hashed))).data).toMatchObject(check);
    expect(decodeEvent(encodeEvent(createEvent("manifest.checked", { ...base, known }, hashed))).data).toMatchObject({ known });
    expect(() => createEvent("manifest.checked", { ...base, ...check, known }, hashed)).toThrow(/present exactly when known is absent/);
    expect(() => createEvent("manifest.checked", base, hashed)).toThrow(/present exactly when known is absent/);
    expect(() => createEvent("manifest.checked", { ...base, known, recovered: null }, hashed)).toThrow();
  });

  it("an event from before tenants (no field) stays without one and belongs to default", () => {
    const { tenant: _, ...old } = createRequestEvent(jobId, { jobId, request, upload });
    const hashed = createEvent("content.hashed", hashedData, old);
    expect("tenant" in hashed).toBe(false);
    expect(tenantOf(decodeEvent(encodeEvent(hashed)))).toBe("default");
  });

  it("refuses a tenant that is not a tenant name, in a new request and on the wire", () => {
    expect(() => createRequestEvent(jobId, { jobId, request, upload }, new Date(), "Acme Corp")).toThrow(RangeError);
    const bytes = new TextEncoder().encode(JSON.stringify({ ...createRequestEvent(jobId, { jobId, request, upload }), tenant: "../x" }));
    expect(() => decodeEvent(bytes)).toThrow(/tenant/);
  });
});

describe("decodeEventFrom: an event is read only on the subject it belongs on", () => {
  const jobId = newJobId();
  const request = { jobType: "verify" as const, manifestUri: "ipfs://bafy/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null };
  const requested = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } });
  const bytes = (e: object) => new TextEncoder().encode(JSON.stringify(e));

  it("decodes an event on veriflow.<type>.<jobId>", () => {
    expect(decodeEventFrom(`veriflow.verification.requested.${jobId}`, encodeEvent(requested))).toEqual(decodeEvent(encodeEvent(requested)));
  });

  it("refuses it on another type's subject, another job's, or a job id that is not one subject token", () => {
    const refused: [string, object, RegExp][] = [
      [`veriflow.content.hashed.${jobId}`, requested, /belongs on "veriflow\.verification\.requested\./],
      [`veriflow.verification.requested.${newJobId()}`, requested, /belongs on/],
      [`veriflow.verification.requested.${jobId}`, { ...requested, data: { ...requested.data, jobId: newJobId() } }, /data\.jobId .* is not the envelope's correlationId/],
    ];
    for (const bad of ["a.b", "*", ">", "a b", "x\t"]) {
      refused.push([`veriflow.verification.requested.${bad}`, { ...requested, correlationId: bad, data: { ...requested.data, jobId: bad } }, /is not a job id/]);
    }
    for (const [subject, event, message] of refused) {
      expect(() => decodeEventFrom(subject, bytes(event)), subject).toThrow(EventDecodeError);
      expect(() => decodeEventFrom(subject, bytes(event)), subject).toThrow(message);
    }
  });
});
