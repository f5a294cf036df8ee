import { createChainEndpoints, readChainEndpointConfig } from "@veriflow/adapters";
import { defineStage } from "@veriflow/pipeline";
import { createHandlers } from "./handlers.js";

/** The chain-check stage, wherever it runs: its own service, or the gateway's fallback. */
export const stageModule = defineStage({
  stage: "chain-check",
  // Reads are cached per block and batched: many jobs in flight share answers and calls, so the chain isn't the bottleneck.
  defaultConcurrency: 256,
  readSettings: readChainEndpointConfig,
  create(settings, runtime) {
    const chains = createChainEndpoints(settings);
    const handlers = createHandlers({ chainFor: chains.chainFor, checkRpcUrl: chains.checkRpcUrl, now: runtime.now });
    return { handle: handlers.onManifestChecked, close: () => chains.close() };
  },
});
