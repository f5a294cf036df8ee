import type { Router } from "@koa/router";
import { WEBHOOK_SIGNING_SECRET_PATH } from "@veriflow/events";
import { badRequest } from "@veriflow/errors";
import { createRouter, principalOf, readJsonBody, requireScope } from "@veriflow/http";
import type { Logger } from "@veriflow/platform";
import { databaseErrors, type DatabaseReadiness } from "@veriflow/pg";
import type { SigningSecrets, TenantSigningSecret } from "./signing-secrets.js";

/** How long the replaced secret keeps signing after a rotation, unless the request says: a day; at most a week. */
export const DEFAULT_OVERLAP_S = 86_400;
const MAX_OVERLAP_S = 7 * 86_400;

/**
 * The tenant's secret for its job callbacks (the `admin` scope): GET answers it (made on first
 * use), POST `…/rotate` makes a new one, the old one signing beside it for `overlapSeconds`.
 */
export function createSigningSecretRouter(deps: { signingSecrets: SigningSecrets; log: Logger; database?: DatabaseReadiness }): Router {
  const router = createRouter({ prefix: WEBHOOK_SIGNING_SECRET_PATH });
  router.use(async (ctx, next) => {
    ctx.set("cache-control", "no-store");
    await next();
  });
  router.use(databaseErrors(deps.database));
  router.use(requireScope("admin"));

  router.get("/", async (ctx) => {
    ctx.body = toApiSigningSecret(await deps.signingSecrets.current(principalOf(ctx).tenant));
  });

  router.post("/rotate", async (ctx) => {
    const overlapSeconds = parseOverlap(ctx.request.length ? await readJsonBody(ctx, 1024) : {});
    const tenant = principalOf(ctx).tenant;
    const rotated = await deps.signingSecrets.rotate(tenant, overlapSeconds * 1000);
    deps.log.info({ tenant, overlapSeconds }, "webhook signing secret rotated");
    ctx.body = toApiSigningSecret(rotated);
  });
  return router;
}

function parseOverlap(body: unknown): number {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("E_INVALID_BODY", "send a JSON object: { overlapSeconds? }");
  const raw = (body as { overlapSeconds?: unknown }).overlapSeconds;
  if (raw === undefined) return DEFAULT_OVERLAP_S;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0 || raw > MAX_OVERLAP_S) {
    throw badRequest("E_INVALID_OVERLAP", `"overlapSeconds" must be a whole number of seconds from 0 to ${MAX_OVERLAP_S} (a week)`);
  }
  return raw;
}

function toApiSigningSecret(s: TenantSigningSecret) {
  return {
    tenant: s.tenant,
    secret: s.secret,
    createdAt: s.createdAt.toISOString(),
    // Until then, callbacks carry a second signature made with the secret this one replaced.
    previousSecretExpiresAt: s.previousExpiresAt?.toISOString() ?? null,
  };
}
