import { createServer, ServerResponse, STATUS_CODES, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type Koa from "koa";
import { errorCatalog, type ErrorCode } from "@veriflow/errors";
import type { ErrorBody } from "./http.js";
import { DEFAULT_HTTP_SERVER_LIMITS, type HttpServerLimits } from "./server-limits.js";
import { watchUploadRate } from "./upload-rate.js";

export interface HttpServerHandle {
  server: Server;
  /** The bound port (the OS's pick when 0 was asked). */
  port: number;
  /**
   * Stops accepting connections, closes idle keep-alive sockets at once, lets in-flight
   * requests finish for up to `graceMs` (default 5 s), then cuts what remains.
   */
  close(graceMs?: number): Promise<void>;
}

/** Serves a Koa app with `limits` (HttpServerLimits); resolves once the port is bound. */
export async function listen(app: Koa<any, any>, port: number, host = "0.0.0.0", limits: HttpServerLimits = DEFAULT_HTTP_SERVER_LIMITS): Promise<HttpServerHandle> {
  const handle = app.callback();
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: 0, // replaced by the minimum upload rate: a long upload at a fair rate never times out
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the headers timeout on this beat (30 s by default, which would let a
      // 20 s limit run to 50 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => {
      watchUploadRate(req, res, { minBytesPerSecond: limits.minUploadBytesPerSecond, windowMs: limits.uploadRateWindowMs }, () =>
        answerAndClose(req, res, "E_REQUEST_TIMEOUT", `the request body arrived slower than ${limits.minUploadBytesPerSecond} bytes/s over ${limits.uploadRateWindowMs} ms; send it again on a faster link`),
      );
      // Koa settles each request itself (a throwing middleware ends in ctx.onerror): nothing to await.
      void handle(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;
  server.timeout = limits.idleTimeoutMs; // no byte either way for this long: the socket is destroyed
  server.on("clientError", answerClientError);
  server.on("checkExpectation", refuseExpectation);
  // CONNECT never reaches the request listener: Node hands its socket to "connect" listeners
  // and, without one, closes it unanswered. The app answers it like any method (a 405 with
  // Allow where a route has the path, else a 404), and no tunnel is ever opened.
  server.on("connect", (req: IncomingMessage, socket: Socket) => {
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.shouldKeepAlive = false;
    res.once("finish", () => {
      res.detachSocket(socket);
      socket.destroySoon();
    });
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  // While closing, responses tell keep-alive clients to go away, and a socket whose
  // request just finished is closed instead of waiting idle for the grace period.
  server.on("request", (_req, res) => {
    if (closing && !res.headersSent) res.setHeader("connection", "close");
    res.once("finish", () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close(graceMs = 5000) {
      closing ??= new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
        server.close((err) => {
          clearTimeout(timer);
          if (err && (err as NodeJS.ErrnoException).code !== "ERR_SERVER_NOT_RUNNING") reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/**
 * Answers a request the application is still busy with (a body too slow), outside Koa:
 * the error body every edge sends, then the connection is closed, which fails the
 * application's read of the body (multer aborts, a partial upload is purged). Koa finds
 * the response ended and writes nothing more.
 */
function answerAndClose(req: IncomingMessage, res: ServerResponse, code: ErrorCode, message: string): void {
  if (res.headersSent) {
    req.socket.destroy();
    return;
  }
  const requestId = res.getHeader("x-request-id");
  const body = JSON.stringify({ error: { code, message }, requestId: typeof requestId === "string" ? requestId : undefined } satisfies ErrorBody);
  res.writeHead(errorCatalog[code].http, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body, () => req.socket.destroy());
}

/**
 * An `Expect` other than `100-continue` (which Node meets itself): Node's own answer is a
 * bare 417; this one has the error body every edge sends.
 */
function refuseExpectation(req: IncomingMessage, res: ServerResponse): void {
  answerAndClose(req, res, "E_EXPECTATION_FAILED", `this server meets no expectation but 100-continue; send the request without "Expect: ${String(req.headers.expect).slice(0, 64)}"`);
}

/** What Node's parser refused before any application saw it, as the error body every edge sends. */
const CLIENT_ERRORS: Record<string, [ErrorCode, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: ["E_REQUEST_TIMEOUT", "the request's headers did not arrive in time"],
  HPE_HEADER_OVERFLOW: ["E_HEADERS_TOO_LARGE", "the request's headers are larger than this server accepts"],
  HPE_INVALID_METHOD: ["E_NOT_IMPLEMENTED", "this server implements no such request method"],
};

/**
 * Node's own answer to a client error is a bare status line; this one has the same JSON
 * body as every other error. Written only when no response is in flight on the socket
 * (Node's own test, on its private `_httpMessage`): anything else would corrupt it.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code !== "ECONNRESET" && socket.writable && !inFlight?.headersSent) {
    const [code, message] = CLIENT_ERRORS[err.code ?? ""] ?? ["E_BAD_REQUEST", "the request is not valid HTTP/1.1"];
    const status = errorCatalog[code].http;
    const body = JSON.stringify({ error: { code, message }, requestId: undefined } satisfies ErrorBody);
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }
  socket.destroySoon();
}
