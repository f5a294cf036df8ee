import type { Middleware } from "koa";
import { HttpError } from "@veriflow/platform";

/**
 * The job routes are answered by the status service; the gateway forwards them so old
 * clients keep one base URL. Status, body and content type pass through unchanged.
 */
export function proxyToStatus(statusUrl: string, timeoutMs = 10_000): Middleware {
  const base = statusUrl.replace(/\/+$/, "");
  return async (ctx) => {
    let res: Response;
    try {
      res = await fetch(`${base}${ctx.path}${ctx.search}`, {
        method: "GET",
        headers: { accept: "application/json", "x-request-id": String(ctx.state.requestId ?? "") },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new HttpError(503, "E_STATUS_UNAVAILABLE", "the job status service is not reachable; try again shortly", { cause, expose: true });
    }
    ctx.status = res.status;
    ctx.type = res.headers.get("content-type") ?? "application/json";
    ctx.body = Buffer.from(await res.arrayBuffer());
  };
}
