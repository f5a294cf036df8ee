import type { Router } from "@koa/router";
import { issueApiKey, listApiKeys, parseKeyRequest, parseTenant, revokeApiKey, toApiKeyView, type Authenticator, type Principal } from "@veriflow/auth";
import { UUID_PATTERN } from "@veriflow/events";
import { HttpError, badRequest } from "@veriflow/errors";
import { createRouter, principalOf, readJsonBody, requireScope } from "@veriflow/http";
import type { Logger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";

export const KEYS_PATH = "/api/keys";

export interface KeyRoutesDeps {
  sql: Sql;
  log: Logger;
  /** Forgets a key revoked here at once (other replicas within AUTH_CACHE_TTL_MS). */
  authenticator: Authenticator;
}

/**
 * The admin API of API keys, the `admin` scope: POST /api/keys (the key is in the answer,
 * once), GET /api/keys, DELETE /api/keys/:id (revokes). A tenant's admin key manages its own
 * tenant's keys; a bootstrap key (API_KEYS) manages every tenant's, which is how the first
 * keys of a new tenant are made without database access.
 */
export function createKeyRouter(deps: KeyRoutesDeps): Router {
  const router = createRouter({ prefix: KEYS_PATH });
  router.use(async (ctx, next) => {
    ctx.set("cache-control", "no-store");
    await next();
  });
  router.use(requireScope("admin"));

  router.post("/", async (ctx) => {
    const principal = principalOf(ctx);
    const body = await readJsonBody(ctx, 4096);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("E_INVALID_BODY", "send a JSON object: { tenant?, scopes, expires? }");
    const b = body as Record<string, unknown>;
    const request = parseKeyRequest({ tenant: b.tenant ?? principal.tenant, scopes: b.scopes, expires: b.expires });
    mayManage(principal, request.tenant);
    const { record, key } = await issueApiKey(deps.sql, request);
    deps.log.info({ keyId: record.id, tenant: record.tenant, scopes: record.scopes, by: principal.keyId ?? "bootstrap" }, "api key created");
    ctx.status = 201;
    ctx.set("location", `${KEYS_PATH}/${record.id}`);
    ctx.body = { ...toApiKeyView(record), key };
  });

  router.get("/", async (ctx) => {
    const principal = principalOf(ctx);
    const raw = ctx.query.tenant;
    if (Array.isArray(raw)) throw badRequest("E_INVALID_QUERY", "tenant may be given once");
    // A tenant's admin sees its own tenant's keys; a bootstrap key every tenant's unless it names one.
    const tenant = raw ? parseTenant(raw) : principal.allTenants ? undefined : principal.tenant;
    if (tenant !== undefined) mayManage(principal, tenant);
    const keys = await listApiKeys(deps.sql, tenant === undefined ? {} : { tenant });
    ctx.body = { keys: keys.map(toApiKeyView) };
  });

  router.delete("/:id", async (ctx) => {
    const principal = principalOf(ctx);
    const id = ctx.params.id!;
    if (!UUID_PATTERN.test(id)) throw badRequest("E_INVALID_KEY_ID", `a key id is a uuid, got "${id.slice(0, 64)}"`);
    const revoked = await revokeApiKey(deps.sql, id.toLowerCase(), principal.allTenants ? {} : { tenant: principal.tenant });
    if (!revoked) throw new HttpError("E_KEY_NOT_FOUND", `no key ${id}`);
    deps.authenticator.forget(revoked.id);
    deps.log.info({ keyId: revoked.id, tenant: revoked.tenant, by: principal.keyId ?? "bootstrap" }, "api key revoked");
    ctx.body = toApiKeyView(revoked);
  });
  return router;
}

/** A tenant's admin key manages its own tenant only (403: it knows the tenant it named). */
function mayManage(principal: Principal, tenant: string): void {
  if (!principal.allTenants && tenant !== principal.tenant) {
    throw new HttpError("E_FORBIDDEN", `an admin key of tenant ${principal.tenant} manages that tenant's keys only`);
  }
}
