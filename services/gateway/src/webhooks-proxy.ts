import type { Middleware } from "koa";
import { traceHeaders } from "@veriflow/tracing";
import { traceContextOf } from "@veriflow/http";
import { HttpError } from "@veriflow/errors";
import { credentialsOf, passHeaders } from "./status-proxy.js";

/** Largest request body forwarded to the webhooks service (a subscription is a small JSON document). */
const MAX_FORWARDED_BODY = 64 * 1024;

/**
 * The webhook routes are answered by the webhooks service; the gateway forwards them
 * (method, path, query, JSON body, the caller's API key) so clients keep one base URL and
 * one API key; the webhooks service authenticates the key and answers for its tenant.
 * Status, body and content type pass through unchanged.
 */
export function proxyToWebhooks(webhooksUrl: string, timeoutMs = 10_000): Middleware {
  const base = webhooksUrl.replace(/\/+$/, "");
  return async (ctx) => {
    const hasBody = ctx.method !== "GET" && ctx.method !== "HEAD" && ctx.method !== "DELETE";
    const body = hasBody ? await readBody(ctx.req) : undefined;
    let res: Response;
    try {
      res = await fetch(`${base}${ctx.path}${ctx.search}`, {
        method: ctx.method,
        headers: {
          accept: "application/json",
          "x-request-id": String(ctx.state.requestId ?? ""), ...traceHeaders(traceContextOf(ctx)),
          ...credentialsOf(ctx),
          ...(body !== undefined ? { "content-type": ctx.get("content-type") || "application/json" } : {}),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new HttpError("E_WEBHOOKS_UNAVAILABLE", "the webhooks service is not reachable; try again shortly", { cause, expose: true });
    }
    ctx.status = res.status;
    passHeaders(res, ctx);
    if (res.status === 204) return;
    ctx.type = res.headers.get("content-type") ?? "application/json";
    ctx.body = Buffer.from(await res.arrayBuffer());
  };
}

async function readBody(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > MAX_FORWARDED_BODY) throw new HttpError("E_PAYLOAD_TOO_LARGE", `the request body is larger than ${MAX_FORWARDED_BODY} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
