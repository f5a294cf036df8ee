import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { JOBS_PATH } from "@veriflow/events";
import { verifyWebhookSignature } from "../../services/webhooks/src/signature.js";
import { getJson, waitForJob } from "../support/client.js";
import { startReceiver as startLoopbackReceiver, type Receiver } from "../support/receiver.js";
import { systemTest } from "../support/shared-system.js";
import type { System } from "../support/system.js";

// Webhooks end to end: the whole system on real servers, and real HTTP receivers on
// loopback (allow-listed through WEBHOOK_ALLOWED_PRIVATE_HOSTS=127.0.0.1 in the test system).
let sys: System;
const receivers: Receiver[] = [];

systemTest.beforeAll(({ system }) => {
  sys = system;
});
afterAll(async () => {
  await Promise.allSettled(receivers.map((r) => r.close()));
});

/** A receiver closed with the file. */
async function startReceiver(statuses: number[] = [200]): Promise<Receiver> {
  const r = await startLoopbackReceiver(statuses);
  receivers.push(r);
  return r;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function publish() {
  const content = `webhook ${randomBytes(16).toString("hex")}`;
  const published = await sys.publish(content);
  return { content, manifestUri: published.manifestUri };
}

async function submitJob(fields: { content: string; manifestURI: string; callbackUrl?: string }) {
  const form = new FormData();
  form.append("file", new Blob([fields.content]), "upload.txt");
  form.append("registryAddress", sys.registry);
  form.append("manifestURI", fields.manifestURI);
  if (fields.callbackUrl !== undefined) form.append("callbackUrl", fields.callbackUrl);
  const res = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: form });
  return { status: res.status, body: (await res.json()) as any };
}

async function submitWithCallback(callbackUrl: string): Promise<string> {
  const { content, manifestUri } = await publish();
  const accepted = await submitJob({ content, manifestURI: manifestUri, callbackUrl });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  return accepted.body.jobId;
}

async function postJson(path: string, body: unknown) {
  const res = await fetch(`${sys.gatewayUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

const jobDeliveries = async (jobId: string) => (await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}/deliveries`)).body;

describe("job callbacks", () => {
  it("POSTs the signed verification.completed envelope to the job's callbackUrl", async () => {
    const receiver = await startReceiver([200]);
    const jobId = await submitWithCallback(receiver.url);
    const job = await waitForJob(sys.gatewayUrl, jobId);
    expect(job.status).toBe("completed");

    const [request] = await until("the callback", () => (receiver.requests.length > 0 ? receiver.requests : undefined));
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(verifyWebhookSignature(sys.env.WEBHOOK_SIGNING_SECRET!, request!.headers, request!.body)).toBe(true);
    expect(verifyWebhookSignature("whsec_" + randomBytes(32).toString("base64"), request!.headers, request!.body)).toBe(false);
    const envelope = JSON.parse(request!.body);
    expect(envelope).toMatchObject({ type: "verification.completed", correlationId: jobId, data: { jobId, result: { status: "OK" } } });
    expect(request!.headers["webhook-id"]).toBe(envelope.id);

    const listed = await until("the delivery to be recorded", async () => {
      const b = await jobDeliveries(jobId);
      return b.deliveries?.[0]?.status === "delivered" ? b : undefined;
    });
    expect(listed).toMatchObject({ jobId, callbackUrl: receiver.url });
    expect(listed.deliveries).toHaveLength(1);
    expect(listed.deliveries[0]).toMatchObject({ eventId: envelope.id, eventType: "verification.completed", target: "job", attemptCount: 1 });
    expect(listed.deliveries[0].attempts).toEqual([expect.objectContaining({ attempt: 1, statusCode: 200, outcome: "delivered", error: null, nextAttemptAt: null })]);
    // Exactly one POST: no extra deliveries for the job's other events.
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.requests).toHaveLength(1);
  });

  it("retries a receiver that fails twice (500) and delivers on the third attempt, every attempt queryable", async () => {
    const receiver = await startReceiver([500, 500, 200]);
    const jobId = await submitWithCallback(receiver.url);
    await waitForJob(sys.gatewayUrl, jobId);
    const listed = await until("the third attempt", async () => {
      const b = await jobDeliveries(jobId);
      return b.deliveries?.[0]?.status === "delivered" ? b : undefined;
    });
    const d = listed.deliveries[0];
    expect(d).toMatchObject({ status: "delivered", attemptCount: 3, lastStatusCode: 200 });
    expect(d.attempts.map((a: any) => [a.attempt, a.statusCode, a.outcome])).toEqual([
      [1, 500, "retry"],
      [2, 500, "retry"],
      [3, 200, "delivered"],
    ]);
    expect(d.attempts[0].error).toMatch(/500/);
    for (const a of d.attempts.slice(0, 2)) expect(Date.parse(a.nextAttemptAt)).toBeGreaterThan(Date.parse(a.startedAt));
    for (const a of d.attempts) expect(a.durationMs).toBeGreaterThanOrEqual(0);

    // Three POSTs of the same message (same id and body), each freshly signed, backing off.
    expect(receiver.requests).toHaveLength(3);
    expect(new Set(receiver.requests.map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(new Set(receiver.requests.map((r) => r.body)).size).toBe(1);
    for (const r of receiver.requests) expect(verifyWebhookSignature(sys.env.WEBHOOK_SIGNING_SECRET!, r.headers, r.body)).toBe(true);
    // Schedule 200 ms then 400 ms, ±20 %.
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(150);
    expect(receiver.requests[2]!.at - receiver.requests[1]!.at).toBeGreaterThanOrEqual(300);
  });

  it("stops at a 410 Gone", async () => {
    const receiver = await startReceiver([410, 200]);
    const jobId = await submitWithCallback(receiver.url);
    await waitForJob(sys.gatewayUrl, jobId);
    const listed = await until("the 410", async () => {
      const b = await jobDeliveries(jobId);
      return b.deliveries?.[0]?.status === "gone" ? b : undefined;
    });
    expect(listed.deliveries[0]).toMatchObject({ attemptCount: 1, lastStatusCode: 410, nextAttemptAt: null });
    expect(listed.deliveries[0].attempts).toEqual([expect.objectContaining({ attempt: 1, statusCode: 410, outcome: "gone", nextAttemptAt: null })]);
    // Well past the whole retry schedule (200 + 400 + 800 ms): no second POST.
    await new Promise((r) => setTimeout(r, 1800));
    expect(receiver.requests).toHaveLength(1);
  });

  it("refuses a callbackUrl on a private address that is not allow-listed, and a malformed one", async () => {
    const { content, manifestUri } = await publish();
    for (const callbackUrl of ["http://10.0.0.7/cb", "http://localhost:8080/cb", "http://169.254.169.254/latest"]) {
      const r = await submitJob({ content, manifestURI: manifestUri, callbackUrl });
      expect(r.status, callbackUrl).toBe(400);
      expect(r.body).toMatchObject({ error: { code: "E_CALLBACK_HOST_NOT_ALLOWED", message: expect.stringContaining("WEBHOOK_ALLOWED_PRIVATE_HOSTS") }, requestId: expect.any(String) });
    }
    for (const callbackUrl of ["not a url", "ftp://example.com/x"]) {
      const r = await submitJob({ content, manifestURI: manifestUri, callbackUrl });
      expect(r.status, callbackUrl).toBe(400);
      expect(r.body.error.code).toBe("E_INVALID_CALLBACK_URL");
    }
  });

  it("answers an empty list for a job without a callback, 400 for a job id that is not a uuid", async () => {
    const none = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${crypto.randomUUID()}/deliveries`);
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ callbackUrl: null, deliveries: [] });
    const bad = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/nope/deliveries`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("E_INVALID_JOB_ID");
  });
});

describe("subscriptions", () => {
  it("registers a subscription, signs its deliveries with its own secret, lists and deletes it", async () => {
    const receiver = await startReceiver([200]);
    const created = await postJson("/api/webhooks", { url: receiver.url, eventTypes: ["verification.completed"], description: "e2e" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), url: receiver.url, eventTypes: ["verification.completed"], description: "e2e" });
    const { id, secret } = created.body;
    expect(secret).toMatch(/^whsec_/);

    const jobId = await (async () => {
      const { content, manifestUri } = await publish();
      const accepted = await submitJob({ content, manifestURI: manifestUri });
      return accepted.body.jobId as string;
    })();
    await waitForJob(sys.gatewayUrl, jobId);
    const request = await until("the subscription's delivery", () => receiver.requests.find((r) => JSON.parse(r.body).correlationId === jobId));
    expect(JSON.parse(request.body).type).toBe("verification.completed");
    expect(verifyWebhookSignature(secret, request.headers, request.body)).toBe(true);
    expect(verifyWebhookSignature(sys.env.WEBHOOK_SIGNING_SECRET!, request.headers, request.body)).toBe(false);

    const one = await getJson(`${sys.gatewayUrl}/api/webhooks/${id}`);
    expect(one.status).toBe(200);
    expect(one.body).not.toHaveProperty("secret");
    const all = await getJson(`${sys.gatewayUrl}/api/webhooks`);
    expect(all.body.webhooks.map((w: any) => w.id)).toContain(id);
    expect(all.body.webhooks.every((w: any) => !("secret" in w))).toBe(true);

    const deliveries = await until("the delivery record", async () => {
      const b = (await getJson(`${sys.gatewayUrl}/api/webhooks/${id}/deliveries`)).body;
      return b.deliveries?.some((d: any) => d.jobId === jobId && d.status === "delivered") ? b : undefined;
    });
    expect(deliveries.deliveries.find((d: any) => d.jobId === jobId)).toMatchObject({ target: "subscription", webhookId: id, eventType: "verification.completed", attemptCount: 1 });

    const del = await fetch(`${sys.gatewayUrl}/api/webhooks/${id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect((await getJson(`${sys.gatewayUrl}/api/webhooks/${id}`)).status).toBe(404);
    expect((await fetch(`${sys.gatewayUrl}/api/webhooks/${id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("refuses bad registrations with a 400 naming the problem", async () => {
    const cases: [unknown, string][] = [
      [{ url: "http://192.168.0.10/hook", eventTypes: ["verification.completed"] }, "E_WEBHOOK_HOST_NOT_ALLOWED"],
      [{ url: "nope", eventTypes: ["verification.completed"] }, "E_INVALID_WEBHOOK_URL"],
      [{ url: "https://example.com/hook", eventTypes: ["verification.exploded"] }, "E_UNKNOWN_EVENT_TYPE"],
      [{ url: "https://example.com/hook", eventTypes: [] }, "E_INVALID_EVENT_TYPES"],
      [{ url: "https://example.com/hook", eventTypes: ["verification.failed"], secret: "short" }, "E_INVALID_SECRET"],
      [["not", "an", "object"], "E_INVALID_BODY"],
    ];
    for (const [body, code] of cases) {
      const r = await postJson("/api/webhooks", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body).toMatchObject({ error: { code }, requestId: expect.any(String) });
    }
    const notJson = await fetch(`${sys.gatewayUrl}/api/webhooks`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(notJson.status).toBe(400);
    expect((await getJson(`${sys.gatewayUrl}/api/webhooks/not-a-uuid`)).status).toBe(400);
    expect((await getJson(`${sys.gatewayUrl}/api/webhooks/${crypto.randomUUID()}`)).status).toBe(404);
  });
});
