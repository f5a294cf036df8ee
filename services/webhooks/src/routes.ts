import { randomUUID } from "node:crypto";
import Koa from "koa";
import { createWebhookUrlCheck } from "@veriflow/adapters";
import { PageQuery, readQueryFields, refuseQueryProblems, type Query } from "@veriflow/api";
import { JOBS_PATH, UUID_PATTERN, eventTypes } from "@veriflow/events";
import type { Authenticator } from "@veriflow/auth";
import { badRequest, notFound, type CodeWhere } from "@veriflow/errors";
import { authenticate, checkTextField, createRouter, errorHandler, httpMetrics, methodsNotAllowed, principalOf, readJsonBody, requestId, requireScope, traceRequests } from "@veriflow/http";
import type { Logger } from "@veriflow/platform";
import type { Tracing } from "@veriflow/tracing";
import { databaseErrors, type DatabaseReadiness, type Sql } from "@veriflow/pg";
import type { SecretBox } from "./secret-box.js";
import { generateWebhookSecret } from "./signature.js";
import { createSigningSecretRouter } from "./signing-secret-routes.js";
import type { SigningSecrets } from "./signing-secrets.js";
import {
  deleteSubscription,
  getCallback,
  getSubscription,
  insertSubscription,
  listAttempts,
  listJobDeliveries,
  listSubscriptionDeliveries,
  listSubscriptions,
  subscriptionSecretContext,
  type Attempt,
  type Delivery,
  type Subscription,
} from "./store.js";

export interface WebhooksAppDeps {
  sql: Sql;
  log: Logger;
  allowedPrivateHosts: string[];
  /** Whether the migrations are applied: until then every route answers 503 E_DATABASE_UNAVAILABLE. */
  database?: DatabaseReadiness;
  /** Checks every request's API key (the gateway forwards its caller's); each tenant sees its own subscriptions and deliveries. */
  authenticator: Authenticator;
  /** Seals subscription secrets before they are stored. */
  box: SecretBox;
  /** The tenants' signing secrets of job callbacks. */
  signingSecrets: SigningSecrets;
  /** The service's tracing (a server span per request; off when not given). */
  tracing?: Tracing;
}

const MAX_BODY_BYTES = 16 * 1024;

/**
 * The webhooks REST API, each tenant's own: subscriptions, their deliveries and the signing
 * secret (the `admin` scope), and a job's callback deliveries (`read`).
 */
export function createWebhooksApp(deps: WebhooksAppDeps): Koa {
  const { sql } = deps;
  const checkUrl = createWebhookUrlCheck(deps.allowedPrivateHosts);
  const router = createRouter();
  const admin = requireScope("admin");
  const tenantOf = (ctx: Koa.Context) => principalOf(ctx).tenant;

  const requireSubscription = async (raw: string, tenant: string): Promise<Subscription> => {
    const id = parseUuid(raw, "E_INVALID_WEBHOOK_ID", "webhook id");
    const s = await getSubscription(sql, id, tenant);
    if (!s) throw notFound("E_WEBHOOK_NOT_FOUND", `no webhook ${id}`);
    return s;
  };

  router.use(async (ctx, next) => {
    ctx.set("cache-control", "no-store");
    await next();
  });
  // PostgreSQL down (or not migrated yet): 503 with Retry-After, never a 500.
  router.use(databaseErrors(deps.database));

  router.post("/api/webhooks", admin, async (ctx) => {
    const input = parseSubscriptionInput(await readJsonBody(ctx, MAX_BODY_BYTES), checkUrl);
    const secret = input.secret ?? generateWebhookSecret();
    const id = randomUUID();
    const s = await insertSubscription(sql, {
      id,
      tenant: tenantOf(ctx),
      url: input.url,
      eventTypes: input.eventTypes,
      description: input.description,
      secretCiphertext: deps.box.seal(secret, subscriptionSecretContext(id)),
    });
    deps.log.info({ webhookId: s.id, tenant: s.tenant, eventTypes: s.eventTypes }, "webhook registered");
    ctx.status = 201;
    ctx.set("location", `/api/webhooks/${s.id}`);
    // The secret is answered this once; it is never listed again.
    ctx.body = { ...toApiSubscription(s), secret };
  });

  router.get("/api/webhooks", admin, async (ctx) => {
    const page = parsePage(ctx.query);
    const { subscriptions, total } = await listSubscriptions(sql, tenantOf(ctx), page);
    ctx.body = { webhooks: subscriptions.map(toApiSubscription), total, ...page };
  });

  router.get("/api/webhooks/:id", admin, async (ctx) => {
    ctx.body = toApiSubscription(await requireSubscription(ctx.params.id!, tenantOf(ctx)));
  });

  router.delete("/api/webhooks/:id", admin, async (ctx) => {
    const id = parseUuid(ctx.params.id!, "E_INVALID_WEBHOOK_ID", "webhook id");
    if (!(await deleteSubscription(sql, id, tenantOf(ctx)))) throw notFound("E_WEBHOOK_NOT_FOUND", `no webhook ${id}`);
    deps.log.info({ webhookId: id }, "webhook deleted");
    ctx.status = 204;
  });

  router.get("/api/webhooks/:id/deliveries", admin, async (ctx) => {
    const s = await requireSubscription(ctx.params.id!, tenantOf(ctx));
    const page = parsePage(ctx.query);
    const deliveries = await listSubscriptionDeliveries(sql, s.id, page);
    ctx.body = { webhookId: s.id, deliveries: await withAttempts(sql, deliveries), ...page };
  });

  // Another tenant's job answers as an unknown one does: no callback, no deliveries.
  router.get(`${JOBS_PATH}/:jobId/deliveries`, requireScope("read"), async (ctx) => {
    const jobId = parseUuid(ctx.params.jobId!, "E_INVALID_JOB_ID", "job id");
    const tenant = tenantOf(ctx);
    const [callbackUrl, deliveries] = await Promise.all([getCallback(sql, jobId, tenant), listJobDeliveries(sql, jobId, tenant)]);
    ctx.body = { jobId, callbackUrl, deliveries: await withAttempts(sql, deliveries) };
  });

  const app = new Koa();
  app.use(httpMetrics("webhooks"));
  app.use(requestId());
  app.use(traceRequests(deps.log, deps.tracing));
  app.use(errorHandler(deps.log));
  // Nothing answers without a valid key (401), not even an unknown path.
  app.use(authenticate(deps.authenticator));
  // Before the subscription routes: `signing-secret` is not a subscription id.
  const signing = createSigningSecretRouter({ signingSecrets: deps.signingSecrets, log: deps.log, database: deps.database });
  app.use(signing.routes());
  app.use(methodsNotAllowed(signing));
  app.use(router.routes());
  app.use(methodsNotAllowed(router));
  return app;
}

export function toApiSubscription(s: Subscription) {
  return { id: s.id, tenant: s.tenant, url: s.url, eventTypes: s.eventTypes, description: s.description, createdAt: s.createdAt.toISOString() };
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

async function withAttempts(sql: Sql, deliveries: Delivery[]) {
  const attempts = await listAttempts(sql, deliveries.map((d) => d.id));
  const byDelivery = new Map<string, Attempt[]>();
  for (const a of attempts) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a]);
  return deliveries.map((d) => ({
    id: d.id,
    eventId: d.eventId,
    eventType: d.eventType,
    jobId: d.jobId,
    target: d.subscriptionId ? "subscription" : "job",
    webhookId: d.subscriptionId,
    url: d.url,
    status: d.status,
    attemptCount: d.attemptCount,
    nextAttemptAt: iso(d.nextAttemptAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: iso(d.createdAt),
    expiresAt: iso(d.expiresAt),
    completedAt: iso(d.completedAt),
    attempts: (byDelivery.get(d.id) ?? []).map((a) => ({
      attempt: a.attempt,
      startedAt: iso(a.startedAt),
      durationMs: a.durationMs,
      statusCode: a.statusCode,
      error: a.error,
      outcome: a.outcome,
      nextAttemptAt: iso(a.nextAttemptAt),
    })),
  }));
}

export interface SubscriptionInput {
  url: string;
  eventTypes: string[];
  secret: string | null;
  description: string | null;
}

/** Validates a registration: every problem is a 400 a person can act on. */
export function parseSubscriptionInput(body: unknown, checkUrl: ReturnType<typeof createWebhookUrlCheck>): SubscriptionInput {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("E_INVALID_BODY", "send a JSON object: { url, eventTypes, secret?, description? }");
  const b = body as Record<string, unknown>;
  if (typeof b.url !== "string" || b.url.trim() === "") throw badRequest("E_INVALID_WEBHOOK_URL", '"url" is required (an http(s) URL)');
  checkTextField("url", b.url.trim()); // before parsing: URL parsing drops tabs and newlines silently
  const url = checkUrl(b.url.trim(), "url");
  if (!url.ok) throw badRequest(url.code, url.message);
  const types = b.eventTypes;
  if (!Array.isArray(types) || types.length === 0 || !types.every((t) => typeof t === "string")) {
    throw badRequest("E_INVALID_EVENT_TYPES", `"eventTypes" must be a non-empty array of event types (${eventTypes.join(", ")})`);
  }
  const unknown = types.filter((t) => !(eventTypes as string[]).includes(t));
  if (unknown.length > 0) {
    throw badRequest("E_UNKNOWN_EVENT_TYPE", `unknown event type${unknown.length > 1 ? "s" : ""} ${unknown.map((t) => JSON.stringify(String(t).slice(0, 64))).join(", ")}; known: ${eventTypes.join(", ")}`);
  }
  let secret: string | null = null;
  if (b.secret !== undefined && b.secret !== null) {
    if (typeof b.secret !== "string" || !/^[\x21-\x7e]{24,256}$/.test(b.secret)) {
      throw badRequest("E_INVALID_SECRET", '"secret" must be 24 to 256 printable ASCII characters without spaces (omit it to have one generated)');
    }
    secret = b.secret;
  }
  let description: string | null = null;
  if (b.description !== undefined && b.description !== null) {
    if (typeof b.description !== "string" || b.description.length > 500) throw badRequest("E_INVALID_DESCRIPTION", '"description" must be a string of at most 500 characters');
    checkTextField("description", b.description);
    description = b.description;
  }
  return { url: url.url, eventTypes: [...new Set(types)], secret, description };
}

function parseUuid(raw: string, code: CodeWhere<"http", 400>, what: string): string {
  if (!UUID_PATTERN.test(raw)) throw badRequest(code, `${what} must be a uuid, got "${raw.slice(0, 64)}"`);
  return raw.toLowerCase();
}

/** `limit` (20 unless asked, at most 100) and `offset`, by the published PageQuery; every problem at once. */
function parsePage(query: Query): { limit: number; offset: number } {
  const { values, problems } = readQueryFields(PageQuery, query);
  refuseQueryProblems(problems);
  // No problem: both were read (absent ones as their defaults).
  return { limit: values.limit!, offset: values.offset! };
}
