import { randomUUID } from "node:crypto";
import { UPLOADS_BUCKET, createEvent, createRequestEvent, type AnyEnvelope } from "@veriflow/events";
import type { BatchDelivery } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEventIntake } from "./event-intake.js";
import { MIGRATIONS_DIR } from "./service.js";
import { getCallback, listJobDeliveries } from "./store.js";

// The intake (the webhooks consumer's batch handler) against real PostgreSQL.
let db: TestDatabase;
let handle: ReturnType<typeof createEventIntake>;
/** The job endings "in the stream" (the service reads them with findJobEnding, tested with a real nats-server in libs/nats). */
const ended = new Map<string, AnyEnvelope>();
const lookups: string[] = [];
/** The requests "in the stream" (findJobRequest reads the last verification.requested of a job). */
const requested = new Map<string, AnyEnvelope>();
const requestLookups: string[] = [];
const firstDelivery = { redelivered: () => false };
const intake = (events: AnyEnvelope[], delivery: BatchDelivery = firstDelivery) => handle(events, delivery);

beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir: MIGRATIONS_DIR });
  handle = createEventIntake({
    sql: db.sql,
    log: createSilentLogger(),
    maxAgeMs: 60_000,
    findJobEnding: async (jobId) => {
      lookups.push(jobId);
      return ended.get(jobId) ?? null;
    },
    findJobRequest: async (jobId) => {
      requestLookups.push(jobId);
      return requested.get(jobId) ?? null;
    },
    onNewDeliveries: () => {},
  });
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
    const deliveries = await listJobDeliveries(db.sql, a.jobId, "default");
    expect(deliveries).toHaveLength(1);
    // The first one seen is the job's outcome.
    expect(JSON.parse((await db.sql<{ body: string }[]>`select body from webhook_deliveries where job_id = ${a.jobId}`)[0]!.body).data.stage).toBe("hashing");
  });

  it("stores what PostgreSQL cannot hold (NUL) with U+FFFD instead of failing the batch", async () => {
    const bad = job("https://hooks.example.com/b\u0000", "a\u0000.jpg");
    const good = job("https://hooks.example.com/good");
    await intake([bad.request, good.request, bad.failed("hashing"), good.failed("hashing")]);
    expect(await getCallback(db.sql, bad.jobId, "default")).toBe("https://hooks.example.com/b\uFFFD");
    expect(await listJobDeliveries(db.sql, good.jobId, "default")).toHaveLength(1);
    expect(await listJobDeliveries(db.sql, bad.jobId, "default")).toHaveLength(1);
  });

  it("calls back a job whose ending it handles before another replica stored the job's request", async () => {
    const a = job("https://hooks.example.com/other-replica");
    requested.set(a.jobId, a.request);
    const ending = a.failed("chain-check");
    expect(ending.callback).toBe(true);
    // This replica gets the ending while another still holds the request, uncommitted.
    await intake([ending]);
    const deliveries = await listJobDeliveries(db.sql, a.jobId, "default");
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ eventId: ending.id, target: "job", url: "https://hooks.example.com/other-replica" });
    // The other replica commits the request (a first delivery): nothing more is planned.
    await intake([a.request]);
    expect(await listJobDeliveries(db.sql, a.jobId, "default")).toHaveLength(1);
  });

  it("calls back a job whose request is redelivered after its ending was handled (an ending from before the callback flag)", async () => {
    const a = job("https://hooks.example.com/late");
    const { callback: _flag, ...ending } = a.failed("hashing");
    // The ending arrives first: no callback is known yet, so nothing is planned.
    await intake([ending]);
    expect(await listJobDeliveries(db.sql, a.jobId, "default")).toHaveLength(0);
    ended.set(a.jobId, ending);
    await intake([a.request], { redelivered: (e) => e.id === a.request.id });
    const deliveries = await listJobDeliveries(db.sql, a.jobId, "default");
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ eventId: ending.id, target: "job" });
  });

  it("reads the stream only for redelivered requests with a callback, never for first deliveries", async () => {
    lookups.length = 0;
    const first = job("https://hooks.example.com/first");
    const again = job("https://hooks.example.com/again");
    await intake([first.request, again.request], { redelivered: (e) => e.id === again.request.id });
    expect(lookups).toEqual([again.jobId]);
    requestLookups.length = 0;
    // A job still running has no ending: nothing is planned until its terminal event arrives.
    expect(await listJobDeliveries(db.sql, again.jobId, "default")).toHaveLength(0);
    await intake([again.failed("chain-check")]);
    expect(await listJobDeliveries(db.sql, again.jobId, "default")).toHaveLength(1);
    // Its URL was remembered: the ending's callback flag needed no read of the request.
    expect(requestLookups).toEqual([]);
  });

  it("reads no request back for an ending of a job that asked for no callback", async () => {
    requestLookups.length = 0;
    const jobId = randomUUID();
    const request = createRequestEvent(jobId, {
      jobId,
      request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null },
      upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null },
    });
    const ending = createEvent("verification.failed", { jobId, jobType: "verify", stage: "hashing", code: "E_INTERNAL", message: "x", attempts: 1 }, request);
    expect(ending.callback).toBeUndefined();
    await intake([ending]);
    expect(requestLookups).toEqual([]);
    expect(await listJobDeliveries(db.sql, jobId, "default")).toHaveLength(0);
  });
});
