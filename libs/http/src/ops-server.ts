import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { collectProcessMetrics, metricsRegistry } from "@veriflow/platform";

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * /healthz (the process is alive), /readyz (its dependencies answer: 503 otherwise)
 * and /metrics (Prometheus text). Separate from any public port.
 */
export async function startOpsServer(port: number, host: string, isReady: () => Promise<boolean> | boolean): Promise<OpsServer> {
  // The process metrics are what an ops port exists to report.
  collectProcessMetrics();
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.url === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
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
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
