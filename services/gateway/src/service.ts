import { Shutdown, connectNats, ensureStreams, listen, openUploadsBucket, startOpsServer, type Logger, type RunningService } from "@veriflow/platform";
import type { GatewayConfig } from "./config.js";
import { createGatewayApp } from "./routes.js";

/** The composition: NATS → streams and uploads bucket → HTTP app → ops endpoints. */
export async function startGatewayService(config: GatewayConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const nats = await connectNats({ url: config.natsUrl, name: "veriflow-gateway", log });
  shutdown.add("nats", () => nats.close());
  await ensureStreams(nats.jsm, config.topology);
  const uploads = await openUploadsBucket(nats.js, config.topology);
  if (config.apiKeys.length === 0) log.warn("API_KEYS is empty: the job routes accept anonymous requests");

  const app = createGatewayApp({
    js: nats.js,
    uploads,
    log,
    policy: { allowHttpManifests: config.allowHttpManifests, rpcUrlAllowlist: config.rpcUrlAllowlist },
    maxUploadBytes: config.maxUploadBytes,
    statusUrl: config.statusUrl,
    apiKeys: config.apiKeys,
  });
  const http = await listen(app, config.port, config.host);
  shutdown.add("http", () => http.close());
  const ops = await startOpsServer(config.opsPort, () => nats.isConnected());
  shutdown.add("ops", () => ops.close());
  log.info({ port: http.port, opsPort: ops.port }, "gateway ready");
  return { port: http.port, opsPort: ops.port, stop: () => shutdown.run() };
}
