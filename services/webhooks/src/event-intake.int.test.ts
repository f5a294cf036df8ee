import { randomUUID } from "node:crypto";
import { UPLOADS_BUCKET, createEvent, createRequestEvent, type AnyEnvelope } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEventIntake } from "./event-intake.js";
import { MIGRATIONS_DIR } from "./service.js";
import { getCallback, listJobDeliveries } from "./store.js";

// The intake (the webhooks consumer's batch handler) against real PostgreSQL.
let db: TestDatabase;
let intake: (events: AnyEnvelope[]) => Promise<void>;

beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir: MIGRATIONS_DIR });
  intake = createEventIntake({ sql: db.sql, log: createSilentLogger(), maxAgeMs: 60_000, onNewDeliveries: () => {} });
});
afterAll(async () => {
  await db?.drop();
});

function job(callbackUrl: string, fileName: string | null = null) {
  const jobId = randomUUID();
  const request = createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl },
    upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName, contentType: null, nuid: null, chunks: null, digest: null },
  });
  const failed = (stage: "hashing" | "chain-check") =>
    createEvent("verification.failed", { jobId, jobType: "verify", stage, code: "E_INTERNAL", message: "x", attempts: 1 }, request);
  return { jobId, request, failed };
}

describe("createEventIntake", () => {
  it("plans one callback per job: a second terminal event (same terminal id) adds none, in the same batch or later", async () => {
    const a = job("https://hooks.example.com/a");
    await intake([a.request, a.failed("hashing"), a.failed("chain-check")]);
    await intake([a.failed("chain-check")]);
    const deliveries = await listJobDeliveries(db.sql, a.jobId);
    expect(deliveries).toHaveLength(1);
    // The first one seen is the job's outcome.
    expect(JSON.parse((await db.sql<{ body: string }[]>`select body from webhook_deliveries where job_id = ${a.jobId}`)[0]!.body).data.stage).toBe("hashing");
  });

  it("stores what PostgreSQL cannot hold (NUL) with U+FFFD instead of failing the batch", async () => {
    const bad = job("https://hooks.example.com/b\u0000", "a\u0000.jpg");
    const good = job("https://hooks.example.com/good");
    await intake([bad.request, good.request, bad.failed("hashing"), good.failed("hashing")]);
    expect(await getCallback(db.sql, bad.jobId)).toBe("https://hooks.example.com/b\uFFFD");
    expect(await listJobDeliveries(db.sql, good.jobId)).toHaveLength(1);
    expect(await listJobDeliveries(db.sql, bad.jobId)).toHaveLength(1);
  });
});
