import { Readable } from "node:stream";
import { traceHeaders } from "@veriflow/tracing";
import { traceContextOf } from "@veriflow/http";
import type { Middleware } from "koa";
import { HttpError } from "@veriflow/errors";
import { API_KEY_HEADER } from "@veriflow/http";

/**
 * The job routes are answered by the status service; the gateway forwards them so old
 * clients keep one base URL. GETs, body-less POSTs (a retry, a replay) and DELETEs (a watch) are forwarded
 * with the caller's API key: status checks it against the same keys and answers with the
 * caller's tenant and scopes. Status, body, content type and Retry-After pass through unchanged.
 */
export function proxyToStatus(statusUrl: string, timeoutMs = 10_000): Middleware {
  const base = statusUrl.replace(/\/+$/, "");
  return async (ctx) => {
    let res: Response;
    try {
      res = await fetch(`${base}${ctx.path}${ctx.search}`, {
        method: ctx.method === "POST" || ctx.method === "DELETE" ? ctx.method : "GET",
        headers: { accept: "application/json", "x-request-id": String(ctx.state.requestId ?? ""), ...traceHeaders(traceContextOf(ctx)), ...credentialsOf(ctx) },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new HttpError("E_STATUS_UNAVAILABLE", "the job status service is not reachable; try again shortly", { cause, expose: true });
    }
    ctx.status = res.status;
    passHeaders(res, ctx);
    if (res.status === 204) return; // a stopped watch: no body
    ctx.type = res.headers.get("content-type") ?? "application/json";
    ctx.body = Buffer.from(await res.arrayBuffer());
  };
}

/**
 * The caller's API key headers, if any, for the service that answers a forwarded request:
 * it authenticates the caller itself (the same key store), so its identity and tenant travel
 * with the key, and nothing downstream trusts the gateway to vouch for anyone.
 */
export function credentialsOf(ctx: { get(name: string): string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [API_KEY_HEADER, "authorization"]) if (ctx.get(name)) out[name] = ctx.get(name);
  return out;
}

/** An upstream's Retry-After (a 503 while its database is down) and Location (a 202) reach the client unchanged. */
export function passHeaders(res: Response, ctx: { set(name: string, value: string): void }): void {
  for (const name of ["retry-after", "location"]) {
    const value = res.headers.get(name);
    if (value) ctx.set(name, value);
  }
}

/**
 * The streaming variant, for Server-Sent Events: the status service's response is piped
 * through as it arrives (no buffering, no overall timeout; only connecting is bounded),
 * and the upstream request is aborted when the client goes away.
 */
export function proxyStreamToStatus(statusUrl: string, connectTimeoutMs = 10_000): Middleware {
  const base = statusUrl.replace(/\/+$/, "");
  return async (ctx) => {
    const upstream = new AbortController();
    const connectTimer = setTimeout(() => upstream.abort(new Error("connect timeout")), connectTimeoutMs);
    ctx.req.once("close", () => upstream.abort());
    let res: Response;
    try {
      res = await fetch(`${base}${ctx.path}${ctx.search}`, {
        method: "GET",
        headers: {
          accept: ctx.get("accept") || "text/event-stream",
          "x-request-id": String(ctx.state.requestId ?? ""), ...traceHeaders(traceContextOf(ctx)),
          ...credentialsOf(ctx),
          ...(ctx.get("last-event-id") ? { "last-event-id": ctx.get("last-event-id") } : {}),
        },
        signal: upstream.signal,
      });
    } catch (cause) {
      throw new HttpError("E_STATUS_UNAVAILABLE", "the job status service is not reachable; try again shortly", { cause, expose: true });
    } finally {
      clearTimeout(connectTimer);
    }
    ctx.status = res.status;
    passHeaders(res, ctx);
    ctx.type = res.headers.get("content-type") ?? "application/json";
    if (!res.body || !ctx.type.startsWith("text/event-stream")) {
      const retryAfter = res.headers.get("retry-after"); // too many watches open: when to come back
      if (retryAfter) ctx.set("retry-after", retryAfter);
      ctx.body = Buffer.from(await res.arrayBuffer()); // an error answer: JSON, small
      return;
    }
    // Written straight to the socket (Koa steps aside): each event goes out as it arrives,
    // and a client leaving mid-stream is the normal end of a watch, not an error to report.
    ctx.respond = false;
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.res.writeHead(res.status, { "cache-control": res.headers.get("cache-control") ?? "no-store", "x-accel-buffering": "no" });
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    body.once("error", () => ctx.res.end());
    ctx.res.once("close", () => {
      upstream.abort();
      body.destroy();
    });
    body.pipe(ctx.res);
  };
}
