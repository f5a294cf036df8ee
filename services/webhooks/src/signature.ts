import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures as in the Standard Webhooks spec (standardwebhooks.com), so its
 * libraries verify ours: the headers `webhook-id`, `webhook-timestamp` (unix seconds)
 * and `webhook-signature` = `v1,<base64 HMAC-SHA256>` over `${id}.${timestamp}.${body}`.
 * A secret `whsec_<base64>` is keyed with its decoded bytes; any other secret with its
 * UTF-8 bytes.
 */

export const SECRET_PREFIX = "whsec_";
/** How far a timestamp may be from the receiver's clock before the message is refused. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** A new secret in the spec's format: `whsec_` and 32 random bytes, base64. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64");
}

function secretKey(secret: string): Buffer {
  return secret.startsWith(SECRET_PREFIX) ? Buffer.from(secret.slice(SECRET_PREFIX.length), "base64") : Buffer.from(secret, "utf8");
}

function sign(secret: string, id: string, timestamp: string, body: string | Uint8Array): string {
  return createHmac("sha256", secretKey(secret)).update(`${id}.${timestamp}.`).update(body).digest("base64");
}

/**
 * The headers of one attempt: the id stays the same across retries, the timestamp is the
 * attempt's. Several secrets (a rotation's new one and the one it replaces, during their
 * overlap) give one `v1,` signature each, space-separated, as the spec allows: a receiver
 * holding either secret verifies the message.
 */
export function signWebhook(secrets: string | readonly string[], id: string, body: string, now: Date = new Date()): WebhookHeaders {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const signatures = (typeof secrets === "string" ? [secrets] : secrets).map((secret) => `v1,${sign(secret, id, timestamp, body)}`);
  if (signatures.length === 0) throw new RangeError("a webhook is signed with one secret at least");
  return { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signatures.join(" ") };
}

type HeaderSource = Headers | WebhookHeaders | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : record[key];
  return Array.isArray(v) ? v[0] : v;
}

export interface VerifyOptions {
  toleranceSeconds?: number;
  now?: Date;
}

/**
 * What a receiver runs on the raw request body (exact bytes, before any JSON parsing):
 * true when one of the `v1,` signatures matches and the timestamp is recent.
 */
export function verifyWebhookSignature(secret: string, headers: HeaderSource, body: string | Uint8Array, opts: VerifyOptions = {}): boolean {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures || !/^\d{1,15}$/.test(timestamp)) return false;
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - Number(timestamp)) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(sign(secret, id, timestamp, body), "base64");
  // Several space-separated signatures may be sent (e.g. while a secret is rotated).
  return signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
