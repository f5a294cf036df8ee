import { UPLOADS_BUCKET, createRequestEvent, deriveEventId, type Envelope, type JobRequest } from "@veriflow/events";
import { TransientError } from "@veriflow/errors";
import { createSilentLogger } from "@veriflow/platform";
import type { HandlerContext } from "@veriflow/pipeline";
import { describe, expect, it } from "vitest";
import { createHandlers, ownUpload, type HashingDeps } from "./handlers.js";

const T0 = new Date("2025-01-01T00:00:00.000Z");
const T1 = new Date("2025-01-01T00:00:05.000Z");
const HASH = "0x" + "ab".repeat(32);

const request: JobRequest = {
  jobType: "proof",
  manifestUri: "https://example.com/manifest.json",
  registryAddress: "0x" + "2".repeat(40),
  rpcUrl: null,
  callbackUrl: null,
};

function requested(jobId = "job-1"): Envelope<"verification.requested"> {
  return createRequestEvent(
    jobId,
    { jobId, request, upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 42, fileName: "a.jpg", contentType: "image/jpeg", nuid: "N1", chunks: 1, digest: "SHA-256=x" } },
    T0,
  );
}

const ctx = (attempt = 1): HandlerContext => ({ attempt, log: createSilentLogger() });

function fakeDeps(overrides: Partial<HashingDeps> = {}) {
  const hashed: string[] = [];
  const times = [T0, T1];
  const deps: HashingDeps = {
    async hashUpload(upload) {
      hashed.push(upload.name);
      return { sha256Hex: HASH, size: 42 };
    },
    now: () => times.shift() ?? T1,
    ...overrides,
  };
  return { deps, hashed };
}

describe("hashing onVerificationRequested", () => {
  it("hashes the named upload and emits one content.hashed caused by the request", async () => {
    const { deps, hashed } = fakeDeps();
    const input = requested();
    const out = await createHandlers(deps).onVerificationRequested(input, ctx());

    expect(hashed).toEqual(["job-1"]);
    expect(out).toHaveLength(1);
    const ev = out[0]!;
    expect(ev.type).toBe("content.hashed");
    expect(ev.id).toBe(deriveEventId(input.id, "content.hashed"));
    expect(ev.correlationId).toBe("job-1");
    expect(ev.causationId).toBe(input.id);
    expect(ev.occurredAt).toBe(T1.toISOString());
    expect(ev.data).toEqual({
      jobId: "job-1",
      request,
      contentHash: HASH,
      size: 42,
      startedAt: T0.toISOString(),
      attempts: 1,
    });
  });

  it("records the attempt number from the context", async () => {
    const { deps } = fakeDeps();
    const [ev] = await createHandlers(deps).onVerificationRequested(requested(), ctx(4));
    expect(ev!.type === "content.hashed" && ev!.data.attempts).toBe(4);
  });

  it("derives the same output id for a redelivered input", async () => {
    const input = requested("job-2");
    const a = await createHandlers(fakeDeps().deps).onVerificationRequested(input, ctx(1));
    const b = await createHandlers(fakeDeps().deps).onVerificationRequested(input, ctx(2));
    expect(a[0]!.id).toBe(b[0]!.id);
    const other = await createHandlers(fakeDeps().deps).onVerificationRequested(requested("job-3"), ctx());
    expect(other[0]!.id).not.toBe(a[0]!.id);
  });

  it("lets an error from hashUpload propagate unchanged", async () => {
    const err = new TransientError("E_UPLOAD_UNAVAILABLE", "gone");
    const { deps } = fakeDeps({ hashUpload: () => Promise.reject(err) });
    await expect(createHandlers(deps).onVerificationRequested(requested(), ctx())).rejects.toBe(err);
  });

  it("refuses, for good, a request naming another job's upload, and reads nothing (it read, then deleted, that job's file)", async () => {
    const { deps, hashed } = fakeDeps();
    const forged = requested("job-2");
    forged.data.upload!.name = "job-1";
    await expect(createHandlers(deps).onVerificationRequested(forged, ctx())).rejects.toMatchObject({ name: "PermanentError", code: "E_INVALID_ARGUMENT", message: expect.stringContaining('"job-1"') });
    expect(hashed).toEqual([]);
    expect(ownUpload(forged)).toBeNull();
    expect(ownUpload(requested("job-1"))).toMatchObject({ name: "job-1" });
  });

  it("passes a given hash (a watch) on lower-cased, marked given, reading nothing", async () => {
    const { deps, hashed } = fakeDeps();
    const watch = createRequestEvent("job-4", { jobId: "job-4", request, contentHash: HASH.toUpperCase().replace("0X", "0x"), upload: null }, T0);
    const [ev] = await createHandlers(deps).onVerificationRequested(watch, ctx());
    expect(hashed).toEqual([]);
    expect(ev!.data).toEqual({ jobId: "job-4", request, contentHash: HASH, size: 0, startedAt: T0.toISOString(), attempts: 1, hashGiven: true });
    expect(ownUpload(watch)).toBeNull();
  });

  it("refuses, for good, a request with neither an upload nor a hash, or with both", async () => {
    const { deps, hashed } = fakeDeps();
    const neither = createRequestEvent("job-5", { jobId: "job-5", request, upload: null }, T0);
    await expect(createHandlers(deps).onVerificationRequested(neither, ctx())).rejects.toMatchObject({ name: "PermanentError", code: "E_INVALID_ARGUMENT" });
    const both = requested("job-6");
    both.data.contentHash = HASH;
    await expect(createHandlers(deps).onVerificationRequested(both, ctx())).rejects.toMatchObject({ name: "PermanentError", code: "E_INVALID_ARGUMENT" });
    expect(hashed).toEqual([]);
  });
});
