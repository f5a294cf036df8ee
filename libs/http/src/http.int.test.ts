import { request as httpRequest, Agent } from "node:http";
import { Router } from "@koa/router";
import Koa from "koa";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpError, badRequest } from "@veriflow/errors";
import { errorHandler, httpMetrics, requestId } from "./http.js";
import { listen, type HttpServerHandle } from "./server.js";
import { metricsRegistry } from "@veriflow/platform";

const logged: Array<{ level: number; msg: string }> = [];
const log = pino({ level: "debug" }, { write: (line: string) => void logged.push(JSON.parse(line)) });

function createApp() {
  const app = new Koa();
  const router = new Router();
  router.get("/ok", (ctx) => {
    ctx.body = { ok: true };
  });
  router.get("/bad", () => {
    throw badRequest("E_INVALID_QUERY", "widget must be blue", { field: "widget" });
  });
  router.get("/hidden", () => {
    throw new HttpError("E_RPC_UNAVAILABLE", "upstream at 10.0.0.7 refused");
  });
  router.get("/full", () => {
    throw new HttpError("E_STORAGE_FULL", "the uploads bucket is full", { retryAfterSeconds: 30, expose: true });
  });
  router.get("/crash", () => {
    throw new Error("secret connection string postgres://u:p@db");
  });
  router.get("/too-big", (ctx) => ctx.throw(413, "upload exceeds 10 MB"));
  router.get("/multer", () => {
    throw Object.assign(new Error("File too large"), { name: "MulterError", code: "LIMIT_FILE_SIZE" });
  });
  router.get("/slow", async (ctx) => {
    await new Promise((r) => setTimeout(r, 300));
    ctx.body = { slow: true };
  });
  app.use(httpMetrics("test"));
  app.use(requestId());
  app.use(errorHandler(log));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

let server: HttpServerHandle;
let base: string;

beforeAll(async () => {
  server = await listen(createApp(), 0, "127.0.0.1");
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.close();
});

async function call(path: string, init?: RequestInit) {
  const res = await fetch(base + path, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe("errorHandler", () => {
  it("renders an HttpError with its code, status, message and details", async () => {
    const r = await call("/bad");
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error: { code: "E_INVALID_QUERY", message: "widget must be blue", details: { field: "widget" } },
      requestId: r.headers.get("x-request-id"),
    });
  });

  it("hides the message of an HttpError that is not exposed", async () => {
    const r = await call("/hidden");
    expect(r.status).toBe(502);
    expect(r.body.error).toEqual({ code: "E_RPC_UNAVAILABLE", message: "Bad Gateway" });
  });

  it("answers a full store 507 with Retry-After, logged below error level", async () => {
    logged.length = 0;
    const r = await call("/full");
    expect(r.status).toBe(507);
    expect(r.headers.get("retry-after")).toBe("30");
    expect(r.body.error).toEqual({ code: "E_STORAGE_FULL", message: "the uploads bucket is full" });
    expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    expect((await call("/bad")).headers.get("retry-after")).toBeNull();
  });

  it("turns any other error into a logged 500 with a generic message", async () => {
    logged.length = 0;
    const r = await call("/crash", { headers: { "x-request-id": "crash-1" } });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { code: "E_INTERNAL", message: "internal server error" }, requestId: "crash-1" });
    expect(logged.some((l) => l.level === 50 && l.msg === "request failed")).toBe(true);
  });

  it("maps 4xx errors from Koa and upload parsers to clear codes", async () => {
    expect((await call("/too-big")).body.error).toEqual({ code: "E_PAYLOAD_TOO_LARGE", message: "upload exceeds 10 MB" });
    const m = await call("/multer");
    expect(m.status).toBe(413);
    expect(m.body.error.code).toBe("E_PAYLOAD_TOO_LARGE");
  });

  it("answers unknown routes with 404 E_NOT_FOUND and wrong methods with 405", async () => {
    const r = await call("/nowhere");
    expect(r.status).toBe(404);
    expect(r.body.error).toEqual({ code: "E_NOT_FOUND", message: "no route for GET /nowhere" });
    const m = await call("/ok", { method: "DELETE" });
    expect(m.status).toBe(405);
    expect(m.body.error.code).toBe("E_METHOD_NOT_ALLOWED");
  });
});

describe("requestId", () => {
  it("keeps a sane incoming id and replaces anything else", async () => {
    expect((await fetch(`${base}/ok`, { headers: { "x-request-id": "abc-123" } })).headers.get("x-request-id")).toBe("abc-123");
    const long = await fetch(`${base}/ok`, { headers: { "x-request-id": "x".repeat(200) } });
    expect(long.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});

describe("httpMetrics", () => {
  it("records requests by route pattern and status", async () => {
    await fetch(`${base}/ok`);
    await fetch(`${base}/nowhere-${Date.now()}`);
    const text = await metricsRegistry.getSingleMetricAsString("veriflow_http_requests_total");
    expect(text).toMatch(/service="test",route="GET \/ok",status="200"\} \d+/);
    expect(text).toMatch(/service="test",route="unmatched",status="404"\} \d+/);
  });
});

describe("listen", () => {
  it("closes promptly with idle keep-alive connections open, letting in-flight requests finish", async () => {
    const s = await listen(createApp(), 0, "127.0.0.1");
    const agent = new Agent({ keepAlive: true });
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        httpRequest({ port: s.port, host: "127.0.0.1", path, agent }, (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode!, body }));
        }).on("error", reject).end();
      });
    try {
      expect((await get("/ok")).status).toBe(200); // leaves an idle keep-alive socket
      const slow = get("/slow");
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await s.close();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await slow).toEqual({ status: 200, body: '{"slow":true}' });
    } finally {
      agent.destroy();
    }
  });
});
