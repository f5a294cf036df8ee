import { SCOPES } from "@veriflow/auth";
import { JOBS_PAGE_SIZE, eventTypes } from "@veriflow/events";
import { Timestamp } from "./jobs.js";
import { queryCount, queryParam } from "./query.js";
import { z } from "./zod.js";

/** Dead letters (`admin`), webhooks and the signing secret (`admin`, deliveries `read`), API keys (`admin`). */

const uuid = z.string().uuid();

export const DeadLetterQuery = z.object({
  consumer: queryParam(
    "consumer",
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: (iss) => `consumer must be a consumer's durable name (letters, digits, - and _), got "${String(iss.input).slice(0, 64)}"` }),
  ),
  after: queryCount("after", 0),
  limit: queryCount("limit", JOBS_PAGE_SIZE.default, { min: 1, max: JOBS_PAGE_SIZE.max }),
});

export const DeadLetterSummary = z
  .object({
    seq: z.number().int().positive().openapi({ description: "Its sequence in VERIFLOW_DLQ: its id." }),
    consumer: z.string(),
    subject: z.string(),
    streamSeq: z.number().int().positive().nullable(),
    reason: z.string(),
    deadLetteredAt: Timestamp,
    size: z.number().int().nonnegative(),
  })
  .openapi("DeadLetterSummary");

export const DeadLetterPage = z
  .object({
    deadLetters: z.array(DeadLetterSummary),
    count: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
    byConsumer: z.record(z.string(), z.number().int().nonnegative()),
    limit: z.number().int().positive(),
    next: z.number().int().positive().nullable().openapi({ description: "The `after` of the next page; null on the last." }),
  })
  .openapi("DeadLetterPage");

export const DeadLetter = DeadLetterSummary.extend({
  headers: z.record(z.string(), z.string()),
  dataEncoding: z.enum(["utf8", "base64"]),
  data: z.string(),
  json: z.unknown().openapi({ description: "The bytes as JSON when they parse; else null." }),
}).openapi("DeadLetter");

export const DeadLetterReplayed = z
  .object({
    seq: z.number().int().positive(),
    consumer: z.string(),
    subject: z.string(),
    streamSeq: z.number().int().positive(),
    duplicate: z.boolean(),
    message: z.string(),
  })
  .openapi("DeadLetterReplayed");

const EventTypeSchema = z.enum(eventTypes).openapi("EventType");

export const WebhookInput = z
  .object({
    url: z.string().openapi({ description: "An http(s) URL of a public host (or one in WEBHOOK_ALLOWED_PRIVATE_HOSTS)." }),
    eventTypes: z.array(EventTypeSchema).min(1),
    secret: z.string().regex(/^[\x21-\x7e]{24,256}$/).nullable().optional().openapi({ description: "Omit it to have one generated." }),
    description: z.string().max(500).nullable().optional(),
  })
  .openapi("WebhookInput");

export const Webhook = z
  .object({ id: uuid, tenant: z.string(), url: z.string(), eventTypes: z.array(z.string()), description: z.string().nullable(), createdAt: Timestamp })
  .openapi("Webhook");

export const WebhookCreated = Webhook.extend({ secret: z.string().openapi({ description: "Shown this once." }) }).openapi("WebhookCreated");

/** A page of subscriptions or of deliveries (webhooks service). */
export const PageQuery = z.object({
  limit: queryCount("limit", 20, { max: 100 }),
  offset: queryCount("offset", 0),
});

export const WebhookPage = z
  .object({ webhooks: z.array(Webhook), total: z.number().int().nonnegative(), limit: z.number().int().nonnegative(), offset: z.number().int().nonnegative() })
  .openapi("WebhookPage");

export const Delivery = z
  .object({
    id: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    jobId: z.string(),
    target: z.enum(["subscription", "job"]),
    webhookId: z.string().nullable(),
    url: z.string(),
    status: z.enum(["pending", "delivered", "failed", "gone", "cancelled"]),
    attemptCount: z.number().int().nonnegative(),
    nextAttemptAt: Timestamp.nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: Timestamp.nullable(),
    expiresAt: Timestamp.nullable(),
    completedAt: Timestamp.nullable(),
    attempts: z.array(
      z.object({
        attempt: z.number().int().positive(),
        startedAt: Timestamp.nullable(),
        durationMs: z.number().nonnegative(),
        statusCode: z.number().int().nullable(),
        error: z.string().nullable(),
        outcome: z.enum(["delivered", "retry", "failed", "gone"]),
        nextAttemptAt: Timestamp.nullable(),
      }),
    ),
  })
  .openapi("Delivery");

export const WebhookDeliveries = z
  .object({ webhookId: uuid, deliveries: z.array(Delivery), limit: z.number().int().nonnegative(), offset: z.number().int().nonnegative() })
  .openapi("WebhookDeliveries");

export const JobDeliveries = z
  .object({ jobId: uuid, callbackUrl: z.string().nullable(), deliveries: z.array(Delivery) })
  .openapi("JobDeliveries");

export const SigningSecret = z
  .object({
    tenant: z.string(),
    secret: z.string().openapi({ description: "`whsec_` and base64: the key of job callbacks' `webhook-signature`." }),
    createdAt: Timestamp,
    previousSecretExpiresAt: Timestamp.nullable().openapi({ description: "Until then callbacks carry a second signature, made with the replaced secret." }),
  })
  .openapi("SigningSecret");

export const RotateSigningSecret = z
  .object({ overlapSeconds: z.number().int().min(0).max(604_800).optional().openapi({ description: "How long the replaced secret keeps signing (a day unless told)." }) })
  .openapi("RotateSigningSecret");

const ScopeSchema = z.enum(SCOPES).openapi("Scope");

export const KeyInput = z
  .object({
    tenant: z.string().optional().openapi({ description: "The caller's tenant unless told (a bootstrap key names any)." }),
    scopes: z.array(ScopeSchema).min(1),
    expires: z.string().nullable().optional().openapi({ description: "A lifetime (`30d`, `12h`, `90m`, `3600s`) or an ISO-8601 date-time with a zone; never when absent." }),
  })
  .openapi("KeyInput");

export const ApiKeyView = z
  .object({
    id: uuid,
    tenant: z.string(),
    scopes: z.array(ScopeSchema),
    prefix: z.string().openapi({ description: "The key's first characters: tells keys apart, not secret." }),
    createdAt: Timestamp,
    expiresAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable(),
  })
  .openapi("ApiKey");

export const ApiKeyCreated = ApiKeyView.extend({ key: z.string().openapi({ description: "The key itself, shown this once." }) }).openapi("ApiKeyCreated");
export const ApiKeyList = z.object({ keys: z.array(ApiKeyView) }).openapi("ApiKeyList");
export const KeyListQuery = z.object({ tenant: z.string().optional() });
