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
import { claimDueDeliveries, insertDeliveries, listAttempts, listJobDeliveries } from "./store.js";

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
});
