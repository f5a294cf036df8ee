import type { Context, Middleware } from "koa";
import { assertScope, type Authenticator, type Principal, type Scope } from "@veriflow/auth";

/**
 * How a request presents its API key, on every authenticated surface (REST of the gateway,
 * status and webhooks; gRPC of the gateway and status):
 * - `x-api-key: <key>` or `authorization: Bearer <key>`, in HTTP headers and gRPC metadata
 *   alike; x-api-key wins when both are sent.
 * - The key is checked by the Authenticator (@veriflow/auth): bootstrap keys (API_KEYS) in
 *   memory, stored keys through its cache.
 */
export const API_KEY_HEADER = "x-api-key";

/** One header (HTTP) or metadata value (gRPC) by lower-case name; undefined or "" when absent. */
export type HeaderReader = (name: string) => string | undefined;

/** The key a request presents, trimmed, or undefined. */
export function presentedApiKey(header: HeaderReader): string | undefined {
  const direct = header(API_KEY_HEADER)?.trim();
  if (direct) return direct;
  return /^Bearer\s+(.+?)\s*$/i.exec(header("authorization") ?? "")?.[1];
}

/** Koa middleware: authenticates every request it sees (401 otherwise) and keeps its principal in `ctx.state.principal`. */
export function authenticate(authenticator: Authenticator): Middleware {
  return async (ctx, next) => {
    ctx.state.principal = await authenticator.authenticate(presentedApiKey((name) => ctx.get(name)));
    await next();
  };
}

/** Koa middleware for one route: 403 E_FORBIDDEN unless the request's principal holds `scope`. */
export function requireScope(scope: Scope): Middleware {
  return async (ctx, next) => {
    assertScope(principalOf(ctx), scope);
    await next();
  };
}

/** The principal `authenticate` found for this request. */
export function principalOf(ctx: Pick<Context, "state">): Principal {
  const principal = ctx.state.principal as Principal | undefined;
  if (!principal) throw new Error("no principal: the route is not behind authenticate()");
  return principal;
}
