import { Writable } from "node:stream";
import Koa from "koa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, noteLogFields } from "@veriflow/platform";
import { TRACING_OFF, startTracing, type Tracing } from "@veriflow/tracing";
import { errorHandler, requestId } from "./http.js";
import { createRouter } from "./router.js";
import { listen, type HttpServerHandle } from "./server.js";
import { traceRequests } from "./trace-request.js";

// Real servers on 127.0.0.1 with traceRequests mounted as the services mount it, tracing on
// (spans dropped) and off, and the JSON log lines they write captured: the access line, and
// the fields of lines inside a request (carried by the context manager, so with tracing on).
const lines: Record<string, any>[] = [];
const destination = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString("utf8").split("\n")) if (l.trim()) lines.push(JSON.parse(l));
    done();
  },
});
const log = createLogger("test", "debug", destination);
let server: HttpServerHandle;
let base: string;
let offServer: HttpServerHandle;
let tracing: Tracing;

function createApp(tracing: Tracing): Koa {
  const router = createRouter();
  router.get("/jobs/:jobId", async (ctx) => {
    await new Promise((r) => setTimeout(r, 5));
    log.info("reading job"); // the request's fields come from its context
    ctx.body = { id: ctx.params.jobId };
  });
  router.post("/jobs", (ctx) => {
    noteLogFields({ jobId: "new-job" });
    log.info("accepted");
    ctx.status = 202;
    ctx.body = { jobId: "new-job" };
  });
  router.get("/boom", () => {
    throw new Error("boom");
  });
  const app = new Koa();
  app.use(requestId());
  app.use(traceRequests(log, tracing));
  app.use(errorHandler(log));
  app.use((ctx, next) => {
    if (ctx.path === "/healthz") ctx.body = "ok";
    else return next();
  });
  app.use(router.routes());
  return app;
}

beforeAll(async () => {
  const config = { export: true, serviceName: null, url: "http://127.0.0.1:1", headers: {}, sampler: "always_on" as const, samplerRatio: 1, resourceAttributes: {} };
  tracing = startTracing(config, "test", log, { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} });
  server = await listen(createApp(tracing), 0, "127.0.0.1");
  base = `http://127.0.0.1:${server.port}`;
  offServer = await listen(createApp(TRACING_OFF), 0, "127.0.0.1");
});
afterAll(async () => {
  await server?.close(100);
  await offServer?.close(100);
  await tracing?.stop();
});

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const accessLine = async (requestId: string) => {
  for (let i = 0; i < 50 && !lines.some((l) => l.msg === "request" && l.requestId === requestId); i++) await new Promise((r) => setTimeout(r, 10));
  const found = lines.find((l) => l.msg === "request" && l.requestId === requestId);
  if (!found) throw new Error(`no access line for ${requestId}`);
  return found;
};

describe("traceRequests", () => {
  it("keeps the client's trace, echoes traceparent, and logs one access line with the route's job id", async () => {
    const res = await fetch(`${base}/jobs/abc`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, "x-request-id": "req-1" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("traceparent")).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    const access = await accessLine("req-1");
    expect(access).toMatchObject({ level: 30, method: "GET", route: "/jobs/:jobId", status: 200, requestId: "req-1", traceId: TRACE, jobId: "abc", bytes: expect.any(Number) });
    expect(access.ms).toBeGreaterThanOrEqual(4);
    expect(lines.filter((l) => l.msg === "request" && l.requestId === "req-1")).toHaveLength(1);
    expect(lines.find((l) => l.msg === "reading job")).toMatchObject({ requestId: "req-1", traceId: TRACE });
  });

  it("starts a trace when the client sent none or a malformed one; a job id noted in the request reaches every later line", async () => {
    const res = await fetch(`${base}/jobs`, { method: "POST", headers: { traceparent: "00-zz-01", "x-request-id": "req-2" } });
    expect(res.status).toBe(202);
    const access = await accessLine("req-2");
    expect(access).toMatchObject({ route: "/jobs", status: 202, jobId: "new-job", traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(res.headers.get("traceparent")).toContain(access.traceId);
    expect(lines.find((l) => l.msg === "accepted")).toMatchObject({ requestId: "req-2", jobId: "new-job", traceId: access.traceId });
  });

  it("logs failures with their status, and polled ops paths at debug", async () => {
    expect((await fetch(`${base}/boom`, { headers: { "x-request-id": "req-3" } })).status).toBe(500);
    expect(await accessLine("req-3")).toMatchObject({ level: 30, status: 500, route: "/boom" });
    expect(lines.find((l) => l.msg === "request failed")).toMatchObject({ requestId: "req-3", traceId: expect.any(String) });
    await fetch(`${base}/healthz`, { headers: { "x-request-id": "req-4" } });
    expect(await accessLine("req-4")).toMatchObject({ level: 20, status: 200, route: null, path: "/healthz" });
  });

  it("off: the access line still ties the request id, the trace id and the job id together, and traceparent is echoed", async () => {
    const res = await fetch(`http://127.0.0.1:${offServer.port}/jobs/off-1`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-00`, "x-request-id": "req-off" } });
    expect(res.headers.get("traceparent")).toBe(`00-${TRACE}-00f067aa0ba902b7-00`);
    expect(await accessLine("req-off")).toMatchObject({ requestId: "req-off", traceId: TRACE, jobId: "off-1", status: 200 });
  });
});
