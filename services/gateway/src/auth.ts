import { createHash, timingSafeEqual } from "node:crypto";
import type { Middleware } from "koa";
import { HttpError } from "@veriflow/errors";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * API-key check for the job routes (the old system had none). Keys come in
 * `x-api-key` or `Authorization: Bearer <key>`; compared in constant time.
 */
export function requireApiKey(keys: string[]): Middleware {
  const wanted = keys.map(digest);
  return async (ctx, next) => {
    if (wanted.length === 0) return next();
    const bearer = /^Bearer\s+(.+)$/i.exec(ctx.get("authorization"))?.[1];
    const given = ctx.get("x-api-key") || bearer;
    if (!given) throw new HttpError("E_UNAUTHORIZED", "an API key is required: send it in the x-api-key header");
    const d = digest(given);
    if (!wanted.some((w) => timingSafeEqual(w, d))) throw new HttpError("E_UNAUTHORIZED", "the API key is not valid");
    await next();
  };
}
