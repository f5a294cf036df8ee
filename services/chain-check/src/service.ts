import { consumers } from "@veriflow/events";
import { Shutdown, type Logger, type RunningService } from "@veriflow/platform";
import { connectNats, startStage } from "@veriflow/nats";
import { startOpsServer } from "@veriflow/http";
import { createChainEndpoints } from "@veriflow/adapters";
import type { ChainCheckConfig } from "./config.js";
import { createHandlers } from "./handlers.js";

/** The composition: NATS → chain endpoints (batched reads) → handlers → consume loop → ops endpoints. */
export async function startChainCheckService(config: ChainCheckConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const nats = await connectNats({ url: config.natsUrl, name: "veriflow-chain-check", log });
  shutdown.add("nats", () => nats.close());
  const chains = createChainEndpoints(config.chain);
  shutdown.add("chain", () => chains.close());

  const handlers = createHandlers({ chainFor: chains.chainFor, checkRpcUrl: chains.checkRpcUrl, now: () => new Date() });
  const loop = await startStage({
    nats,
    topology: config.topology,
    stage: "chain-check",
    consumer: consumers.chainCheck,
    eventType: "manifest.checked",
    handle: handlers.onManifestChecked,
    config: config.stage,
    log,
  });
  shutdown.add("consumer", () => loop.stop());

  const ops = await startOpsServer(config.opsPort, () => nats.isConnected());
  shutdown.add("ops", () => ops.close());
  log.info({ opsPort: ops.port, rpcUrl: config.chain.rpcUrl }, "chain-check ready");
  return { opsPort: ops.port, stop: () => shutdown.run() };
}
