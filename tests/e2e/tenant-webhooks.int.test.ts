import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS_PATH, WEBHOOK_SIGNING_SECRET_PATH } from "@veriflow/events";
import { verifyWebhookSignature } from "../../services/webhooks/src/signature.js";
import { eventually, submit } from "../support/client.js";
import { asKey, createKey } from "../support/keys.js";
import { startReceiver, type Received, type Receiver } from "../support/receiver.js";
import { startSystem, type System } from "../support/system.js";

// Webhooks per tenant on the whole system, with real receivers on loopback: subscriptions,
// their deliveries, job callbacks and their signing secrets are each tenant's own.
const BOOT = "tenant-webhooks-bootstrap-key";
let sys: System;
const keys = {} as Record<"acme" | "globex", string>;
const receivers: Receiver[] = [];

beforeAll(async () => {
  sys = await startSystem({ API_KEYS: BOOT });
  keys.acme = (await createKey(sys.gatewayUrl, BOOT, "acme", ["submit", "read", "admin"])).key;
  keys.globex = (await createKey(sys.gatewayUrl, BOOT, "globex", ["submit", "read", "admin"])).key;
});
afterAll(async () => {
  await Promise.allSettled(receivers.map((r) => r.close()));
  await sys?.stop();
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

async function api(method: string, path: string, key: string, body?: unknown, base = sys.gatewayUrl): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: asKey(key, body === undefined ? {} : { "content-type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A job of the key's tenant (OK verdict), its callback to `callbackUrl` if given. */
async function submitJob(key: string, callbackUrl?: string): Promise<string> {
  const content = `tenant webhooks ${randomBytes(16).toString("hex")}`;
  const { manifestUri } = await sys.publish(content);
  const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, callbackUrl, headers: asKey(key) });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  return accepted.body.jobId;
}

const envelopeOf = (r: Received) => JSON.parse(r.body) as { correlationId: string; type: string; tenant?: string };
const received = (r: Receiver, jobId: string) => eventually(`a delivery of job ${jobId}`, async () => r.requests.find((q) => envelopeOf(q).correlationId === jobId));

describe("subscriptions", () => {
  it("are their tenant's: another tenant neither lists, reads, deletes nor reads the deliveries of one (404)", async () => {
    const created = await api("POST", "/api/webhooks", keys.acme, { url: "https://hooks.example.com/acme", eventTypes: ["verification.completed"] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenant: "acme", secret: expect.stringMatching(/^whsec_/) });
    const id = created.body.id as string;
    expect((await api("GET", "/api/webhooks?limit=100", keys.acme)).body.webhooks.map((w: any) => w.id)).toContain(id);
    expect((await api("GET", "/api/webhooks?limit=100", keys.globex)).body.webhooks.map((w: any) => w.id)).not.toContain(id);
    for (const base of [sys.gatewayUrl, sys.webhooksUrl]) {
      for (const [method, path] of [["GET", `/api/webhooks/${id}`], ["GET", `/api/webhooks/${id}/deliveries`], ["DELETE", `/api/webhooks/${id}`]] as const) {
        const res = await api(method, path, keys.globex, undefined, base);
        expect(res.status, `${base} ${method} ${path}`).toBe(404);
        expect(res.body.error.code).toBe("E_WEBHOOK_NOT_FOUND");
      }
    }
    expect((await api("GET", `/api/webhooks/${id}`, keys.acme)).status).toBe(200);
    expect((await api("DELETE", `/api/webhooks/${id}`, keys.acme)).status).toBe(204);
  });

  it("hear their own tenant's events only; a subscription's secret is kept sealed and signs its deliveries", async () => {
    const [ours, theirs] = [await receiver(), await receiver()];
    const mine = await api("POST", "/api/webhooks", keys.acme, { url: ours.url, eventTypes: ["verification.completed"] });
    await api("POST", "/api/webhooks", keys.globex, { url: theirs.url, eventTypes: ["verification.completed"] });
    const [acmeJob, globexJob] = [await submitJob(keys.acme), await submitJob(keys.globex)];
    const delivered = await received(ours, acmeJob);
    expect(envelopeOf(delivered)).toMatchObject({ type: "verification.completed", tenant: "acme" });
    expect(verifyWebhookSignature(mine.body.secret, delivered.headers, delivered.body)).toBe(true);
    await received(theirs, globexJob);
    await new Promise((r) => setTimeout(r, 500)); // deliveries are made per event batch: the other job's would have come by now
    expect(ours.requests.map((q) => envelopeOf(q).correlationId)).not.toContain(globexJob);
    expect(theirs.requests.map((q) => envelopeOf(q).correlationId)).not.toContain(acmeJob);
    // Each tenant lists its own subscription's deliveries.
    const listed = await api("GET", `/api/webhooks/${mine.body.id}/deliveries`, keys.acme);
    expect(listed.body.deliveries.map((d: any) => d.jobId)).toContain(acmeJob);

    const [row] = await sys.db.sql<{ secret: string | null; secretCiphertext: string }[]>`select secret, secret_ciphertext from webhook_subscriptions where id = ${mine.body.id}`;
    expect(row).toMatchObject({ secret: null, secretCiphertext: expect.stringMatching(/^v1\./) });
    expect(row!.secretCiphertext).not.toContain(mine.body.secret.slice(6, 30));
  });
});

describe("job callbacks", () => {
  it("are signed with the job's tenant's secret, made on first use; the callback deliveries are the tenant's to read", async () => {
    const hook = await receiver();
    const acmeSecret = (await api("GET", WEBHOOK_SIGNING_SECRET_PATH, keys.acme)).body;
    expect(acmeSecret).toMatchObject({ tenant: "acme", secret: expect.stringMatching(/^whsec_/), previousSecretExpiresAt: null });
    expect((await api("GET", WEBHOOK_SIGNING_SECRET_PATH, keys.acme)).body.secret).toBe(acmeSecret.secret);
    const globexSecret = (await api("GET", WEBHOOK_SIGNING_SECRET_PATH, keys.globex)).body.secret;
    expect(globexSecret).not.toBe(acmeSecret.secret);

    const jobId = await submitJob(keys.acme, hook.url);
    const callback = await received(hook, jobId);
    expect(callback.headers["webhook-signature"]).toMatch(/^v1,\S+$/); // one signature
    expect(verifyWebhookSignature(acmeSecret.secret, callback.headers, callback.body)).toBe(true);
    expect(verifyWebhookSignature(globexSecret, callback.headers, callback.body)).toBe(false);
    expect(verifyWebhookSignature(sys.env.WEBHOOK_SIGNING_SECRET!, callback.headers, callback.body)).toBe(false);

    const deliveries = async (key: string) => (await api("GET", `${JOBS_PATH}/${jobId}/deliveries`, key)).body;
    await eventually("the delivery recorded", async () => ((await deliveries(keys.acme)).deliveries[0]?.status === "delivered" ? true : undefined));
    expect(await deliveries(keys.acme)).toMatchObject({ callbackUrl: hook.url });
    expect(await deliveries(keys.globex)).toEqual({ jobId, callbackUrl: null, deliveries: [] });
  });

  it("a rotation signs with the new and the replaced secret until the overlap ends; with no overlap, with the new one only", async () => {
    const hook = await receiver();
    const before = (await api("GET", WEBHOOK_SIGNING_SECRET_PATH, keys.acme)).body.secret as string;
    const rotated = await api("POST", `${WEBHOOK_SIGNING_SECRET_PATH}/rotate`, keys.acme, { overlapSeconds: 3600 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(before);
    expect(Date.parse(rotated.body.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(3500_000);

    const during = await received(hook, await submitJob(keys.acme, hook.url));
    expect(during.headers["webhook-signature"]).toMatch(/^v1,\S+ v1,\S+$/);
    expect(verifyWebhookSignature(rotated.body.secret, during.headers, during.body)).toBe(true);
    expect(verifyWebhookSignature(before, during.headers, during.body)).toBe(true);

    const last = (await api("POST", `${WEBHOOK_SIGNING_SECRET_PATH}/rotate`, keys.acme, { overlapSeconds: 0 })).body;
    expect(last.previousSecretExpiresAt).toBeNull();
    const after = await received(hook, await submitJob(keys.acme, hook.url));
    expect(after.headers["webhook-signature"]).toMatch(/^v1,\S+$/);
    expect(verifyWebhookSignature(last.secret, after.headers, after.body)).toBe(true);
    expect(verifyWebhookSignature(rotated.body.secret, after.headers, after.body)).toBe(false);
    // Another tenant's secret did not move.
    expect((await api("GET", WEBHOOK_SIGNING_SECRET_PATH, keys.globex)).body.previousSecretExpiresAt).toBeNull();

    for (const body of [{ overlapSeconds: -1 }, { overlapSeconds: 1.5 }, { overlapSeconds: 999_999_999 }, { overlapSeconds: "1h" }]) {
      const res = await api("POST", `${WEBHOOK_SIGNING_SECRET_PATH}/rotate`, keys.acme, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("E_INVALID_OVERLAP");
    }
  });
});
