import { randomUUID } from "node:crypto";
import { startRetention, type RetentionConfig } from "@veriflow/pg";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { webhooksPruneSteps } from "./retention.js";
import { MIGRATIONS_DIR } from "./service.js";
import { insertSubscription, rememberCallbacks, type DeliveryStatus } from "./store.js";

// Webhook retention against a real PostgreSQL: rows are aged by writing their timestamps.
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir: MIGRATIONS_DIR });
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.sql`truncate webhook_delivery_attempts, webhook_deliveries, webhook_job_callbacks, webhook_subscriptions cascade`;
});

const MINUTE = 60_000;

/** A delivery in `status`, settled `settledAgoMs` ago (pending ones never settle), with two attempts. */
async function delivery(status: DeliveryStatus, settledAgoMs: number, opts: { jobId?: string; subscriptionId?: string } = {}): Promise<string> {
  const id = randomUUID();
  const target = opts.subscriptionId ? `subscription:${opts.subscriptionId}` : "job";
  await db.sql`
    insert into webhook_deliveries (id, event_id, event_type, job_id, target, subscription_id, url, body, status, attempt_count, completed_at, expires_at)
    values (${id}, ${randomUUID()}, 'verification.completed', ${opts.jobId ?? randomUUID()}, ${target}, ${opts.subscriptionId ?? null},
      'https://example.com/hook', '{}', ${status}, 2,
      ${status === "pending" ? null : new Date(Date.now() - settledAgoMs)}, now() + interval '1 day')`;
  for (const attempt of [1, 2]) {
    await db.sql`
      insert into webhook_delivery_attempts (delivery_id, attempt, started_at, duration_ms, outcome)
      values (${id}, ${attempt}, now(), 5, ${attempt === 2 && status !== "pending" ? (status === "delivered" ? "delivered" : "failed") : "retry"})`;
  }
  return id;
}

const remaining = async () => (await db.sql<{ id: string }[]>`select id from webhook_deliveries`).map((r) => r.id).sort();
const config = (over: Partial<RetentionConfig> = {}): RetentionConfig => ({
  completedMaxAgeMs: 10 * MINUTE,
  failedMaxAgeMs: 100 * MINUTE,
  intervalMs: 3_600_000,
  batchSize: 2,
  ...over,
});
const prune = async (c: RetentionConfig) => {
  const r = startRetention({ ...c, steps: webhooksPruneSteps(db.sql, c), log: createSilentLogger() });
  try {
    return await r.runOnce();
  } finally {
    await r.stop();
  }
};

describe("webhooks retention", () => {
  it("deletes delivered deliveries after the completed age and undelivered ones after the failed age, with their attempts", async () => {
    const oldDelivered = await Promise.all([1, 2, 3].map(() => delivery("delivered", 20 * MINUTE)));
    const youngDelivered = await delivery("delivered", 1 * MINUTE);
    const oldFailed = await delivery("failed", 200 * MINUTE);
    const oldGone = await delivery("gone", 200 * MINUTE);
    const youngFailed = await delivery("failed", 20 * MINUTE);
    const pending = await delivery("pending", 0);
    expect(await prune(config())).toEqual({ webhook_deliveries: 5, webhook_delivery_attempts: 10 });
    expect(await remaining()).toEqual([youngDelivered, youngFailed, pending].sort());
    const orphans = await db.sql`select 1 from webhook_delivery_attempts where delivery_id = any(${db.sql.array([...oldDelivered, oldFailed, oldGone])}::uuid[])`;
    expect(orphans.length).toBe(0);
  });

  it("deletes old callbacks once nothing of theirs is pending, and deleted subscriptions once their deliveries are gone", async () => {
    const [done, waiting] = [randomUUID(), randomUUID()];
    await rememberCallbacks(db.sql, [
      { jobId: done, tenant: "default", url: "https://example.com/a" },
      { jobId: waiting, tenant: "default", url: "https://example.com/b" },
    ]);
    await db.sql`update webhook_job_callbacks set created_at = now() - interval '1 day'`;
    await delivery("pending", 0, { jobId: waiting });

    const gone = await insertSubscription(db.sql, { id: randomUUID(), tenant: "default", url: "https://example.com/s", eventTypes: ["verification.completed"], description: null, secretCiphertext: "sealed" });
    const kept = await insertSubscription(db.sql, { id: randomUUID(), tenant: "default", url: "https://example.com/t", eventTypes: ["verification.completed"], description: null, secretCiphertext: "sealed" });
    await db.sql`update webhook_subscriptions set deleted_at = now() - interval '1 day'`;
    await delivery("failed", 200 * MINUTE, { subscriptionId: gone.id });
    await delivery("failed", 1 * MINUTE, { subscriptionId: kept.id });

    expect(await prune(config())).toEqual({ webhook_deliveries: 1, webhook_delivery_attempts: 2, webhook_job_callbacks: 1, webhook_subscriptions: 1 });
    expect((await db.sql`select job_id from webhook_job_callbacks`).map((r) => r.jobId)).toEqual([waiting]);
    expect((await db.sql`select id from webhook_subscriptions`).map((r) => r.id)).toEqual([kept.id]);
  });

  it("keeps rows of an age set to 0", async () => {
    await delivery("delivered", 1000 * MINUTE);
    const failed = await delivery("failed", 1000 * MINUTE);
    expect(await prune(config({ failedMaxAgeMs: 0 }))).toEqual({ webhook_deliveries: 1, webhook_delivery_attempts: 2 });
    expect(await remaining()).toEqual([failed]);
  });
});
