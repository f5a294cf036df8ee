import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { createDeliverySecrets, sealClearSecrets } from "./delivery-secrets.js";
import { createSecretBox } from "./secret-box.js";
import { MIGRATIONS_DIR } from "./service.js";
import { createSigningSecrets } from "./signing-secrets.js";
import { claimDueDeliveries, insertDeliveries, insertSubscription, subscriptionSecretContext } from "./store.js";

// Secrets at rest and per tenant, against real PostgreSQL: what the table holds, what a claim
// reads, what signs a delivery.
let db: TestDatabase;
const box = createSecretBox(randomBytes(32));
const SEED = "whsec_" + Buffer.from("the deployment's signing secret!").toString("base64");

beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir: MIGRATIONS_DIR });
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.sql`truncate webhook_signing_secrets, webhook_delivery_attempts, webhook_deliveries, webhook_subscriptions cascade`;
});

const signing = () => createSigningSecrets({ sql: db.sql, box, defaultSeed: SEED });
const secretsFor = () => createDeliverySecrets(box, signing());

async function claimJobCallback(tenant: string) {
  const eventId = randomUUID();
  await insertDeliveries(db.sql, [{ id: randomUUID(), eventId, eventType: "verification.completed", jobId: randomUUID(), tenant, target: "job", subscriptionId: null, url: "https://r.example/", body: "{}" }], 60_000);
  const [claimed] = await claimDueDeliveries(db.sql, 10, 60_000);
  return claimed!;
}

describe("a tenant's signing secret", () => {
  it("is made on first use, kept sealed, and the same afterwards; default's first one is WEBHOOK_SIGNING_SECRET", async () => {
    const acme = await signing().current("acme");
    expect(acme.secret).toMatch(/^whsec_/);
    expect((await signing().current("acme")).secret).toBe(acme.secret);
    expect((await signing().current("globex")).secret).not.toBe(acme.secret);
    expect((await signing().current("default")).secret).toBe(SEED);
    const stored = await db.sql<{ text: string }[]>`select t::text as text from webhook_signing_secrets t`;
    for (const row of stored) expect(row.text).not.toContain(acme.secret.slice(6, 30));
  });

  it("signs a tenant's callbacks, made on the first callback when the tenant has none", async () => {
    const claimed = await claimJobCallback("initech");
    expect(claimed.signingCiphertext).toBeNull();
    const keys = await secretsFor()(claimed);
    expect(keys).toEqual([(await signing().current("initech")).secret]);
  });

  it("rotates: the new secret signs first, the one it replaced beside it until the overlap ends", async () => {
    const before = await signing().current("acme");
    const rotated = await signing().rotate("acme", 60_000);
    expect(rotated.secret).not.toBe(before.secret);
    expect(rotated.previousExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(await secretsFor()(await claimJobCallback("acme"))).toEqual([rotated.secret, before.secret]);
    // An overlap of 0: the old one stops signing at once.
    const again = await signing().rotate("acme", 0);
    expect(again.previousExpiresAt).toBeNull();
    await db.sql`truncate webhook_deliveries cascade`;
    expect(await secretsFor()(await claimJobCallback("acme"))).toEqual([again.secret]);
  });
});

describe("subscription secrets at rest", () => {
  it("are stored sealed for their own row, and sign that subscription's deliveries", async () => {
    const id = randomUUID();
    const secret = "a-subscription-secret-of-thirty-two!";
    await insertSubscription(db.sql, { id, tenant: "acme", url: "https://r.example/", eventTypes: ["verification.completed"], description: null, secretCiphertext: box.seal(secret, subscriptionSecretContext(id)) });
    const [row] = await db.sql<{ secret: string | null; text: string }[]>`select secret, s::text as text from webhook_subscriptions s`;
    expect(row!.secret).toBeNull();
    expect(row!.text).not.toContain(secret);
    await insertDeliveries(db.sql, [{ id: randomUUID(), eventId: randomUUID(), eventType: "verification.completed", jobId: randomUUID(), tenant: "acme", target: `subscription:${id}`, subscriptionId: id, url: "https://r.example/", body: "{}" }], 60_000);
    const [claimed] = await claimDueDeliveries(db.sql, 10, 60_000);
    expect(await secretsFor()(claimed!)).toEqual([secret]);
  });

  it("kept in clear before sealing existed are sealed at start, once, and still sign", async () => {
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await db.sql`insert into webhook_subscriptions (id, url, event_types, secret) values (${id}, 'https://r.example/', ${db.sql.array(["verification.completed"])}, ${`clear-secret-of-${id}`})`;
    expect(await sealClearSecrets(db.sql, box, createSilentLogger())).toBe(2);
    expect(await sealClearSecrets(db.sql, box, createSilentLogger())).toBe(0);
    const rows = await db.sql<{ id: string; secret: string | null; secretCiphertext: string }[]>`select id, secret, secret_ciphertext from webhook_subscriptions`;
    for (const r of rows) {
      expect(r.secret).toBeNull();
      expect(box.open(r.secretCiphertext, subscriptionSecretContext(r.id))).toBe(`clear-secret-of-${r.id}`);
    }
    // From before tenants: the subscription is tenant default's.
    expect((await db.sql<{ tenant: string }[]>`select distinct tenant from webhook_subscriptions`).map((r) => r.tenant)).toEqual(["default"]);
  });
});
