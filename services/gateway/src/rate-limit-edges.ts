import type { Middleware } from "koa";
import { HttpError } from "@veriflow/errors";
import type { Limit } from "@veriflow/grpc";
import { clientAddress, peerHost, type Identify, type Identity } from "./client-identity.js";
import { rateLimited } from "./metrics.js";
import type { Budget } from "./rate-limit-config.js";
import type { RateLimitDecision, RateLimiter } from "./rate-limiter.js";

/**
 * The rate limits at the gateway's edges, REST and gRPC alike:
 *
 * - every answer counted against a limit carries the RateLimit headers of
 *   draft-ietf-httpapi-ratelimit-headers-06 (`RateLimit-Limit`, `RateLimit-Remaining`,
 *   `RateLimit-Reset` in seconds, `RateLimit-Policy: <limit>;w=<window seconds>`); gRPC sends
 *   them as trailing metadata of the same names. The three separate fields, not the later
 *   drafts' combined `RateLimit`: they are what clients and proxies read today;
 * - a request over its limit is refused before anything else is done for it: 429
 *   E_RATE_LIMITED with `Retry-After` (gRPC RESOURCE_EXHAUSTED, `retry-after` trailer);
 * - an answer admitted without a check (the counters' bucket down) carries no RateLimit
 *   headers: there is nothing true to say.
 */
export interface RateLimitEdges {
  /** Koa middleware counting each request against `budget`; mount it before the API-key check. */
  rest(budget: Budget): Middleware;
  /** The gRPC servers' rate limit (GrpcServerOptions.limit); undefined when limits are off. */
  grpc?: Limit;
}

export function createRateLimitEdges(opts: {
  limiter: RateLimiter | null;
  identify: Identify;
  /** The budget a gRPC method spends from. */
  budgetOfMethod: (method: string) => Budget;
}): RateLimitEdges {
  const { limiter, identify } = opts;
  if (!limiter) return { rest: () => (_ctx, next) => next() };
  return {
    rest: (budget) => async (ctx, next) => {
      const identity = await identify((name) => ctx.get(name), clientAddress(ctx.ip));
      const decision = await limiter.take(identity, budget);
      if (decision.checked) ctx.set(rateLimitHeaders(decision));
      if (!decision.allowed) {
        rateLimited.inc({ surface: "rest", budget });
        throw refusal(identity, budget, decision);
      }
      await next();
    },
    async grpc(call, trailer) {
      const header = (name: string) => {
        const v = call.metadata.get(name)[0];
        return typeof v === "string" ? v : v?.toString("utf8");
      };
      const budget = opts.budgetOfMethod(call.method);
      const identity = await identify(header, clientAddress(peerHost(call.peer)));
      const decision = await limiter.take(identity, budget);
      if (decision.checked) for (const [name, value] of Object.entries(rateLimitHeaders(decision))) trailer.set(name, value);
      if (!decision.allowed) {
        rateLimited.inc({ surface: "grpc", budget });
        throw refusal(identity, budget, decision);
      }
    },
  };
}

export function rateLimitHeaders(d: RateLimitDecision): Record<string, string> {
  return {
    "ratelimit-limit": String(d.limit),
    "ratelimit-remaining": String(d.remaining),
    "ratelimit-reset": String(d.resetSeconds),
    "ratelimit-policy": `${d.limit};w=${d.windowSeconds}`,
  };
}

function refusal(identity: Identity, budget: Budget, d: RateLimitDecision): HttpError {
  const who = identity.keyId === undefined ? `this client address (${identity.ip}, no API key)` : "this API key";
  const what = budget === "submit" ? "submissions" : "requests other than submissions";
  return new HttpError("E_RATE_LIMITED", `${who} has used its ${d.limit} ${what} per ${d.windowSeconds} s; send again in ${d.resetSeconds} s`, {
    retryAfterSeconds: d.resetSeconds,
    details: { budget, limit: d.limit, windowSeconds: d.windowSeconds, retryAfterSeconds: d.resetSeconds },
  });
}
