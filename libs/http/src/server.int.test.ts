import { request } from "node:http";
import { connect, type Socket } from "node:net";
import Koa from "koa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawExchange } from "@veriflow/testing";
import { createSilentLogger } from "@veriflow/platform";
import { errorHandler, requestId } from "./http.js";
import { listen, type HttpServerHandle } from "./server.js";
import type { HttpServerLimits } from "./server-limits.js";

// Real sockets on 127.0.0.1 against listen() with small limits: what a slow-loris does is
// cut, what an honest client does passes.
const LIMITS: HttpServerLimits = {
  headersTimeoutMs: 500,
  idleTimeoutMs: 1500,
  keepAliveTimeoutMs: 1000,
  minUploadBytesPerSecond: 64 * 1024,
  uploadRateWindowMs: 500,
  maxConnections: 4,
};

let server: HttpServerHandle;
beforeAll(async () => {
  const app = new Koa();
  app.use(requestId());
  app.use(errorHandler(createSilentLogger()));
  app.use(async (ctx) => {
    if (ctx.path === "/hang") return new Promise(() => {}); // an answer that never comes
    let bytes = 0;
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) bytes += chunk.length;
    ctx.body = { bytes };
  });
  server = await listen(app, 0, "127.0.0.1", LIMITS);
});
afterAll(() => server?.close(100));

const head = (length: number) => `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`;

/** Sends `total` bytes in `chunk`-byte writes every `everyMs`, with http.request; resolves to the status and body. */
function upload(total: number, chunk: number, everyMs: number): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, method: "POST", path: "/upload", headers: { "content-length": total } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), ms: Date.now() - started }));
    });
    req.on("error", reject);
    let sent = 0;
    const next = () => {
      if (sent >= total) return void req.end();
      const n = Math.min(chunk, total - sent);
      sent += n;
      const flowing = req.write(Buffer.alloc(n, 0x61));
      if (everyMs > 0) setTimeout(next, everyMs);
      else if (flowing) setImmediate(next);
      else req.once("drain", next);
    };
    next();
  });
}

describe("listen() limits", () => {
  it("cuts headers dribbled past the headers timeout with 408, in JSON", async () => {
    const r = await rawExchange(server.port, "GET /x HTTP/1.1\r\nHost: x\r\n", 5000, { bytes: "X-Slow: 1\r\n", everyMs: 100 });
    expect(r.status).toBe(408);
    expect(r.body).toMatchObject({ error: { code: "E_REQUEST_TIMEOUT", message: expect.stringContaining("headers") } });
    expect(r.ms).toBeLessThan(LIMITS.headersTimeoutMs + 1000);
  });

  it("cuts a body that arrives below the minimum rate with 408, and closes the connection", async () => {
    // 1 KiB every 100 ms: 10 KiB/s against a floor of 64 KiB/s.
    const r = await rawExchange(server.port, head(10 * 1024 * 1024), 5000, { bytes: Buffer.alloc(1024, 0x61), everyMs: 100 });
    expect(r.status).toBe(408);
    expect(r.body).toMatchObject({ error: { code: "E_REQUEST_TIMEOUT", message: expect.stringContaining("bytes/s") }, requestId: expect.any(String) });
    expect(r.ms).toBeLessThan(3 * LIMITS.uploadRateWindowMs + 500);
  });

  it("lets an upload at a fair rate run as long as it takes, far past many windows", async () => {
    // 64 KiB every 20 ms (about 3 MiB/s) for about 2.4 s: five times the window.
    const slowButFair = await upload(8 * 1024 * 1024, 64 * 1024, 20);
    expect(slowButFair).toMatchObject({ status: 200, body: { bytes: 8 * 1024 * 1024 } });
    expect(slowButFair.ms).toBeGreaterThan(4 * LIMITS.uploadRateWindowMs);
    const fast = await upload(64 * 1024 * 1024, 1024 * 1024, 0);
    expect(fast).toMatchObject({ status: 200, body: { bytes: 64 * 1024 * 1024 } });
  });

  it("closes a connection on which nothing moves for the idle timeout", async () => {
    const r = await rawExchange(server.port, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n", 5000);
    expect(r).toMatchObject({ status: null, closed: true });
    expect(r.ms).toBeGreaterThanOrEqual(LIMITS.idleTimeoutMs - 100);
    expect(r.ms).toBeLessThan(LIMITS.idleTimeoutMs + 1000);
  });

  it("refuses the connection past the cap at once, and takes one again when a slot frees", async () => {
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = connect(server.port, "127.0.0.1", () => resolve(s));
        s.on("error", reject);
      });
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnections }, open));
    await new Promise((r) => setTimeout(r, 50)); // the server has accepted them all
    const extra = await rawExchange(server.port, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", 2000);
    expect(extra).toMatchObject({ status: null, closed: true });
    expect(extra.ms).toBeLessThan(300);
    held[0]!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect((await rawExchange(server.port, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", 2000)).status).toBe(200);
    for (const s of held) s.destroy();
    // Let the server see them go before the next test connects.
    while ((await new Promise<number>((r) => server.server.getConnections((_e, n) => r(n)))) > 0) await new Promise((r) => setTimeout(r, 10));
  });

  it("answers what Node's parser refuses in the same JSON: an unknown method 501, oversized headers 431", async () => {
    const unknown = await rawExchange(server.port, "FROB /x HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(unknown).toMatchObject({ status: 501, body: { error: { code: "E_NOT_IMPLEMENTED" } } });
    const huge = await rawExchange(server.port, `GET /x HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatchObject({ status: 431, body: { error: { code: "E_HEADERS_TOO_LARGE" } } });
    const garbage = await rawExchange(server.port, "GET /x HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n");
    expect(garbage).toMatchObject({ status: 400, body: { error: { code: "E_BAD_REQUEST" } } });
  });

  it("answers an Expect it does not meet with 417 in the same JSON (Node's own was a bare status line)", async () => {
    const answer = await rawExchange(server.port, "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n");
    expect(answer).toMatchObject({ status: 417, headers: { connection: "close" }, body: { error: { code: "E_EXPECTATION_FAILED", message: expect.stringContaining("200-ok") } } });
  });

  it("has the app answer CONNECT like any method, then closes the connection (Node closed it unanswered)", async () => {
    for (const target of ["/x", "example.com:443"]) {
      const answer = await rawExchange(server.port, `CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 2000);
      expect(answer, target).toMatchObject({ status: 200, headers: { connection: "close" }, body: { bytes: 0 } });
    }
  });
});
