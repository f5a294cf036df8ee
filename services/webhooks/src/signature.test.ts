import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateWebhookSecret, signWebhook, verifyWebhookSignature } from "./signature.js";

const body = JSON.stringify({ id: "evt-1", type: "verification.completed", data: { jobId: "j" } });
const now = new Date("2026-01-02T03:04:05Z");

describe("signWebhook", () => {
  it("follows the Standard Webhooks scheme: v1,base64(HMAC-SHA256(key, id.timestamp.body))", () => {
    const secret = "whsec_" + Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");
    const h = signWebhook(secret, "evt-1", body, now);
    expect(h["webhook-id"]).toBe("evt-1");
    expect(h["webhook-timestamp"]).toBe(String(now.getTime() / 1000));
    const expected = createHmac("sha256", Buffer.from("0123456789abcdef0123456789abcdef")).update(`evt-1.${h["webhook-timestamp"]}.${body}`).digest("base64");
    expect(h["webhook-signature"]).toBe(`v1,${expected}`);
  });

  it("keys a secret without the whsec_ prefix with its UTF-8 bytes", () => {
    const h = signWebhook("a-plain-shared-secret-of-some-length", "evt-1", body, now);
    const expected = createHmac("sha256", "a-plain-shared-secret-of-some-length").update(`evt-1.${h["webhook-timestamp"]}.${body}`).digest("base64");
    expect(h["webhook-signature"]).toBe(`v1,${expected}`);
  });
});

describe("signing with two secrets (a rotation's overlap)", () => {
  it("sends one v1 signature per secret, space-separated; a receiver with either verifies it, with neither does not", () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    const h = signWebhook([newSecret, oldSecret], "evt-1", body, now);
    expect(h["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/=]{44} v1,[A-Za-z0-9+/=]{44}$/);
    expect(h["webhook-signature"].split(" ")[0]).toBe(signWebhook(newSecret, "evt-1", body, now)["webhook-signature"]);
    expect(verifyWebhookSignature(oldSecret, h, body, { now })).toBe(true);
    expect(verifyWebhookSignature(newSecret, h, body, { now })).toBe(true);
    expect(verifyWebhookSignature(generateWebhookSecret(), h, body, { now })).toBe(false);
    expect(() => signWebhook([], "evt-1", body, now)).toThrow(RangeError);
  });
});

describe("verifyWebhookSignature", () => {
  const secret = generateWebhookSecret();
  const headers = signWebhook(secret, "evt-1", body, now);

  it("accepts what signWebhook produced, from a plain object, a Headers object or bytes", () => {
    expect(verifyWebhookSignature(secret, headers, body, { now })).toBe(true);
    expect(verifyWebhookSignature(secret, new Headers({ ...headers }), Buffer.from(body), { now })).toBe(true);
    const upper = { "Webhook-Id": headers["webhook-id"], "Webhook-Timestamp": headers["webhook-timestamp"], "Webhook-Signature": headers["webhook-signature"] };
    expect(verifyWebhookSignature(secret, upper, body, { now })).toBe(true);
  });

  it("accepts any matching entry of a space-separated list (secret rotation)", () => {
    const list = { ...headers, "webhook-signature": `v1,AAAA ${headers["webhook-signature"]}` };
    expect(verifyWebhookSignature(secret, list, body, { now })).toBe(true);
  });

  it("refuses a changed body, id or timestamp, another secret, or a missing header", () => {
    expect(verifyWebhookSignature(secret, headers, body + " ", { now })).toBe(false);
    expect(verifyWebhookSignature(secret, { ...headers, "webhook-id": "evt-2" }, body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, { ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) + 1) }, body, { now })).toBe(false);
    expect(verifyWebhookSignature(generateWebhookSecret(), headers, body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, { ...headers, "webhook-signature": "" }, body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, { ...headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,") }, body, { now })).toBe(false);
  });

  it("refuses a timestamp outside the tolerance (replays)", () => {
    const later = new Date(now.getTime() + 301_000);
    expect(verifyWebhookSignature(secret, headers, body, { now: later })).toBe(false);
    expect(verifyWebhookSignature(secret, headers, body, { now: later, toleranceSeconds: 600 })).toBe(true);
  });
});
