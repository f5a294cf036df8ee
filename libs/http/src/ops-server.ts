import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash, timingSafeEqual } from "node:crypto";
import { collectProcessMetrics, metricsRegistry, type CommonConfig } from "@veriflow/platform";

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * /healthz (the process is alive), /readyz (its dependencies answer: 503 otherwise)
 * and /metrics (Prometheus text). Separate from any public port. With OPS_TOKEN set,
 * /readyz and /metrics answer 401 without `Authorization: Bearer <token>` (Prometheus'
 * `authorization` and a probe's `httpHeaders` send it); /healthz stays open for liveness.
 */
export async function startOpsServer(
  ops: Pick<CommonConfig, "opsPort" | "opsHost" | "opsToken">,
  isReady: () => Promise<boolean> | boolean,
): Promise<OpsServer> {
  const allowed = tokenCheck(ops.opsToken);
  // The process metrics are what an ops port exists to report.
  collectProcessMetrics();
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.url === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      } else if ((req.url === "/readyz" || req.url === "/metrics") && !allowed(req.headers.authorization)) {
        res.writeHead(401, { "content-type": "application/json", "www-authenticate": "Bearer" }).end('{"error":{"code":"E_UNAUTHORIZED","message":"send OPS_TOKEN as authorization: Bearer <token>"}}');
      } else if (req.url === "/readyz") {
        const ready = await Promise.resolve(isReady()).catch(() => false);
        res.writeHead(ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ready }));
      } else if (req.url === "/metrics") {
        res.writeHead(200, { "content-type": metricsRegistry.contentType }).end(await metricsRegistry.metrics());
      } else {
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"code":"E_NOT_FOUND","message":"not found"}}');
      }
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(ops.opsPort, ops.opsHost, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Whether an Authorization header carries the token (compared as digests, in constant time); anything goes without one. */
function tokenCheck(token: string | null): (authorization: string | undefined) => boolean {
  if (token === null) return () => true;
  const wanted = digest(token);
  return (authorization) => {
    const given = /^Bearer\s+(.+?)\s*$/i.exec(authorization ?? "")?.[1];
    return given !== undefined && timingSafeEqual(digest(given), wanted);
  };
}
