import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEvent, createRequestEvent, type AnyEnvelope, type JobRequest, type VerifyResult } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { createIntake } from "./intake.js";
import { recheckOnce } from "./rechecks.js";
import { schema } from "./schema.js";

// Scheduled re-checks on a real PostgreSQL: armed when a run ends, started once when due
// (whatever the number of replicas asking), armed again when the re-check's run ends.
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir: schema.dir });
});
afterAll(async () => {
  await db?.drop();
});

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const jobId = "66666666-6666-4666-8666-666666666666";
const request: JobRequest = { jobType: "verify", manifestUri: "https://m.example/x.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null, recheckEverySeconds: 3600 };
const req = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } }, T0);
const hashed = createEvent("content.hashed", { jobId, request, contentHash: "0x" + "c".repeat(64), size: 1, startedAt: T0.toISOString(), attempts: 1 }, req, T0);
const result: VerifyResult = {
  status: "OK",
  reasons: [],
  fileHash: "0x" + "c".repeat(64),
  recovered: null,
  onchain: { creator: "0x" + "1".repeat(40), timestamp: 1, manifestURI: request.manifestUri, revoked: false, blockNumber: 3 },
  checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
};
const take = (events: AnyEnvelope[]) => createIntake({ sql: db.sql, log: createSilentLogger(), publish: async () => {}, now: () => T0 })(events);
const recheck = (now: Date, sink: AnyEnvelope[] = []) => recheckOnce({ sql: db.sql, log: createSilentLogger(), publishRuns: async (e) => void sink.push(...e), now: () => now });

describe("scheduled re-checks", () => {
  it("are due a period after the verdict, start once as the next bulk run, and come back after that run ends", async () => {
    await take([hashed, createEvent("verification.completed", { jobId, jobType: "verify", contentHash: hashed.data.contentHash, result, attempts: 1 }, hashed, at(10))]);
    expect(await recheck(at(3609))).toEqual([]);

    // Two replicas asking at once: one starts it.
    const [a, b] = await Promise.all([recheck(at(3610)), recheck(at(3610))]);
    const started = [...a, ...b];
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ type: "content.hashed", correlationId: jobId, run: 2, data: { request: { priority: "bulk", recheckEverySeconds: 3600 } } });
    // Not due again while its run is in flight, however late.
    expect(await recheck(at(99_999))).toEqual([]);

    // The re-check's run ends (here: it failed); the next is a period after.
    const run2 = started[0]!;
    await take([run2, createEvent("verification.failed", { jobId, jobType: "verify", stage: "manifest", code: "E_MANIFEST_UNAVAILABLE", message: "503", attempts: 3 }, run2, at(4000))]);
    expect(await recheck(at(7599))).toEqual([]);
    expect((await recheck(at(7600))).map((e) => e.run)).toEqual([3]);
  });
});
