import { createHash, timingSafeEqual } from "node:crypto";
import type { Middleware } from "koa";
import { HttpError } from "@veriflow/errors";
import type { EnvReader } from "@veriflow/platform";

/**
 * The API-key check of every authenticated surface: the gateway's REST job routes and
 * the gRPC servers of the gateway and status.
 *
 * - Keys are configured in API_KEYS, comma-separated (blanks around and between entries
 *   dropped); none configured leaves the surface open.
 * - A request presents its key as `x-api-key: <key>` or `authorization: Bearer <key>`,
 *   in HTTP headers and gRPC metadata alike; x-api-key wins when both are sent.
 * - Keys are compared as SHA-256 digests with timingSafeEqual, against every configured
 *   key without stopping at a match, so timing tells nothing about which part matched.
 */
export const API_KEY_HEADER = "x-api-key";

/** API_KEYS: the accepted keys; empty leaves the surface open. */
export function readApiKeys(r: EnvReader): string[] {
  return r.list("API_KEYS");
}

/** One header (HTTP) or metadata value (gRPC) by lower-case name; undefined or "" when absent. */
export type HeaderReader = (name: string) => string | undefined;

/** The key a request presents, trimmed, or undefined. */
export function presentedApiKey(header: HeaderReader): string | undefined {
  const direct = header(API_KEY_HEADER)?.trim();
  if (direct) return direct;
  return /^Bearer\s+(.+?)\s*$/i.exec(header("authorization") ?? "")?.[1];
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Throws HttpError 401 E_UNAUTHORIZED unless the request presents one of `keys` (any request when there are none). */
export function createApiKeyCheck(keys: readonly string[]): (header: HeaderReader) => void {
  const wanted = keys.map(digest);
  return (header) => {
    if (wanted.length === 0) return;
    const given = presentedApiKey(header);
    if (!given) {
      throw new HttpError("E_UNAUTHORIZED", `an API key is required: send it as ${API_KEY_HEADER}: <key> or authorization: Bearer <key>`);
    }
    const d = digest(given);
    let valid = false;
    for (const w of wanted) valid = timingSafeEqual(w, d) || valid;
    if (!valid) throw new HttpError("E_UNAUTHORIZED", "the API key is not valid");
  };
}

/** The check as Koa middleware, for the routes it guards. */
export function requireApiKey(keys: readonly string[]): Middleware {
  const check = createApiKeyCheck(keys);
  return async (ctx, next) => {
    check((name) => ctx.get(name));
    await next();
  };
}
