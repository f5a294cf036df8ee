import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createGuardedAgent } from "@veriflow/adapters";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { startDeliveryWorker, type DeliveryWorker } from "./delivery-worker.js";
import type { NewDelivery } from "./handlers.js";
import { MIGRATIONS_DIR } from "./service.js";
import { cancelDelivery, claimDueDeliveries, insertDeliveries, listAttempts, listJobDeliveries, readDeliveryBacklog, recordAttempts, type AttemptResult } from "./store.js";

// The worker against real PostgreSQL and a real HTTP receiver on loopback.
let db: TestDatabase;
let server: Server;
let receiverUrl: string;
let answer = 200;
let hits = 0;
const secret = "whsec_" + Buffer.from("worker test secret, thirty-two b").toString("base64");

beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir: MIGRATIONS_DIR });
  server = createServer((req, res) => {
    req.resume().on("end", () => {
      hits++;
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await db?.drop();
});
beforeEach(async () => {
  await db.sql`truncate webhook_delivery_attempts, webhook_deliveries cascade`;
  hits = 0;
  answer = 200;
});

function delivery(jobId = randomUUID(), url = receiverUrl): NewDelivery {
  const eventId = randomUUID();
  return { id: randomUUID(), eventId, eventType: "verification.completed", jobId, tenant: "default", target: "job", subscriptionId: null, url, body: JSON.stringify({ id: eventId }) };
}

function worker(allowedPrivateHosts: string[], schedule = [100]): DeliveryWorker {
  return startDeliveryWorker({
    sql: db.sql,
    dispatcher: createGuardedAgent({ allowedPrivateHosts, connectTimeoutMs: 1000 }),
    log: createSilentLogger(),
    secretsFor: async () => [secret],
    concurrency: 4,
    timeoutMs: 1000,
    retryScheduleMs: schedule,
    pollIntervalMs: 20,
  });
}

async function settled(jobId: string) {
  for (let i = 0; i < 200; i++) {
    const [d] = await listJobDeliveries(db.sql, jobId, "default");
    if (d && d.status !== "pending") return d;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("delivery never settled");
}

describe("delivery worker", () => {
  it("refuses a private address that is not allow-listed, once, without retrying", async () => {
    const d = delivery();
    await insertDeliveries(db.sql, [d], 60_000);
    const w = worker([]);
    try {
      const done = await settled(d.jobId);
      expect(done).toMatchObject({ status: "failed", attemptCount: 1, lastStatusCode: null });
      expect(done.lastError).toMatch(/non-public address.*WEBHOOK_ALLOWED_PRIVATE_HOSTS/);
      expect(hits).toBe(0);
    } finally {
      await w.stop();
    }
  });

  it("gives up once the next attempt would start after the delivery's max age", async () => {
    answer = 503;
    const d = delivery();
    await insertDeliveries(db.sql, [d], 1500);
    const w = worker(["127.0.0.1"], [400]);
    try {
      const done = await settled(d.jobId);
      expect(done.status).toBe("failed");
      const attempts = await listAttempts(db.sql, [d.id]);
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(attempts.at(-1)).toMatchObject({ outcome: "failed", statusCode: 503, nextAttemptAt: null });
      expect(attempts.slice(0, -1).every((a) => a.outcome === "retry")).toBe(true);
      expect(hits).toBe(attempts.length);
    } finally {
      await w.stop();
    }
  });

  it("leases claimed deliveries: a second claimer skips them, and they come back when the lease runs out (a crashed worker)", async () => {
    const ds = [delivery(), delivery(), delivery()];
    await insertDeliveries(db.sql, ds, 60_000);
    const [a, b] = await Promise.all([claimDueDeliveries(db.sql, 2, 300), claimDueDeliveries(db.sql, 2, 300)]);
    const ids = [...a, ...b].map((d) => d.id);
    expect(ids.sort()).toEqual(ds.map((d) => d.id).sort());
    expect(await claimDueDeliveries(db.sql, 10, 300)).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    const again = await claimDueDeliveries(db.sql, 10, 300);
    expect(again.map((d) => d.attempt)).toEqual([1, 1, 1]);
  });

  it("creates each (event, target) delivery once", async () => {
    const d = delivery();
    expect(await insertDeliveries(db.sql, [d], 60_000)).toBe(1);
    expect(await insertDeliveries(db.sql, [{ ...d, id: randomUUID() }], 60_000)).toBe(0);
  });

  it("records a batch of attempts in one statement, each with its own outcome, and skips a delivery no longer pending", async () => {
    const [ok, retry, expired, gone, cancelled] = [delivery(), delivery(), delivery(), delivery(), delivery()];
    await insertDeliveries(db.sql, [ok, retry, gone, cancelled], 60_000);
    await insertDeliveries(db.sql, [expired], 500);
    await cancelDelivery(db.sql, cancelled.id);
    const startedAt = new Date();
    const attempt = (d: NewDelivery, a: Partial<AttemptResult>): AttemptResult => ({
      deliveryId: d.id, attempt: 1, startedAt, durationMs: 7, statusCode: 200, error: null, outcome: "delivered", retryDelayMs: 60_000, ...a,
    });
    const recorded = await recordAttempts(db.sql, [
      attempt(ok, {}),
      attempt(retry, { statusCode: 503, error: "the receiver answered 503", outcome: "retry", retryDelayMs: 1000 }),
      attempt(expired, { statusCode: null, error: "no answer", outcome: "retry", retryDelayMs: 1000 }),
      attempt(gone, { statusCode: 410, outcome: "gone" }),
      attempt(cancelled, {}),
    ]);
    expect(recorded.map((r) => r?.outcome ?? null)).toEqual(["delivered", "retry", "failed", "gone", null]);
    expect(recorded[1]!.nextAttemptAt!.getTime()).toBeGreaterThan(Date.now() + 500);
    const rows = new Map((await db.sql<{ id: string; status: string; attemptCount: number; lastStatusCode: number | null }[]>`
      select id, status, attempt_count, last_status_code from webhook_deliveries`).map((r) => [r.id, r]));
    expect(rows.get(ok.id)).toMatchObject({ status: "delivered", attemptCount: 1, lastStatusCode: 200 });
    expect(rows.get(retry.id)).toMatchObject({ status: "pending", attemptCount: 1, lastStatusCode: 503 });
    expect(rows.get(expired.id)).toMatchObject({ status: "failed", attemptCount: 1 });
    expect(rows.get(gone.id)).toMatchObject({ status: "gone", lastStatusCode: 410 });
    expect(rows.get(cancelled.id)).toMatchObject({ status: "cancelled", attemptCount: 0 });
    expect((await listAttempts(db.sql, [ok.id, retry.id, expired.id, gone.id, cancelled.id])).length).toBe(4);
  });

  it("reads the backlog the metrics export: deliveries never tried, retrying, and how old the oldest never tried is", async () => {
    expect(await readDeliveryBacklog(db.sql)).toEqual({ waiting: 0, retrying: 0, oldestWaitingAt: null });
    const [first, retry, done, later] = [delivery(), delivery(), delivery(), delivery()];
    await insertDeliveries(db.sql, [first, retry, done], 60_000);
    await db.sql`update webhook_deliveries set created_at = now() - interval '90 seconds' where id = ${first.id}`;
    await insertDeliveries(db.sql, [later], 60_000);
    const startedAt = new Date();
    const base = { attempt: 1, startedAt, durationMs: 5, error: null, retryDelayMs: 1000 };
    await recordAttempts(db.sql, [
      { ...base, deliveryId: retry.id, statusCode: 503, outcome: "retry" },
      { ...base, deliveryId: done.id, statusCode: 200, outcome: "delivered" },
    ]);
    const backlog = await readDeliveryBacklog(db.sql);
    expect(backlog).toMatchObject({ waiting: 2, retrying: 1 });
    expect(Date.now() - backlog.oldestWaitingAt!.getTime()).toBeGreaterThanOrEqual(89_000);
  });

  it("delivers many at once with every attempt recorded (the recorder batches what ends together)", async () => {
    const ds = Array.from({ length: 40 }, () => delivery());
    await insertDeliveries(db.sql, ds, 60_000);
    const w = worker(["127.0.0.1"]);
    try {
      for (const d of ds) expect((await settled(d.jobId)).status).toBe("delivered");
      expect(hits).toBe(40);
      expect((await listAttempts(db.sql, ds.map((d) => d.id))).map((a) => a.outcome)).toEqual(Array(40).fill("delivered"));
    } finally {
      await w.stop();
    }
  });
});
