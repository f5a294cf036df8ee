import { consumers } from "@veriflow/events";
import { Shutdown, type Logger, type RunningService } from "@veriflow/platform";
import { connectNats, startStage } from "@veriflow/nats";
import { startOpsServer } from "@veriflow/http";
import type { ManifestConfig } from "./config.js";
import { createManifestFetcher } from "@veriflow/adapters";
import { createHandlers } from "./handlers.js";

/** The composition: NATS → manifest fetcher → handlers → consume loop → ops endpoints. */
export async function startManifestService(config: ManifestConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const nats = await connectNats({ url: config.natsUrl, name: "veriflow-manifest", log });
  shutdown.add("nats", () => nats.close());

  const fetcher = createManifestFetcher(config.fetch, log);
  shutdown.add("fetcher", () => fetcher.close());
  const handlers = createHandlers({ fetchManifest: (uri) => fetcher.fetchManifest(uri), now: () => new Date() });
  const loop = await startStage({
    nats,
    topology: config.topology,
    stage: "manifest",
    consumer: consumers.manifest,
    eventType: "content.hashed",
    handle: handlers.onContentHashed,
    config: config.stage,
    log,
  });
  shutdown.add("consumer", () => loop.stop());

  const ops = await startOpsServer(config.opsPort, () => nats.isConnected());
  shutdown.add("ops", () => ops.close());
  log.info({ opsPort: ops.port, gateways: config.fetch.ipfsGateways }, "manifest ready");
  return { opsPort: ops.port, stop: () => shutdown.run() };
}
