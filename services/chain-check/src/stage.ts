import { createChainEndpoints, createKnownAnswers, createRpcProvider, readChainEndpointConfig } from "@veriflow/adapters";
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
    // Confirming a known verdict reads the head and the registry's logs since it (uncached: each job's own check).
    const provider = runtime.knownVerdicts ? createRpcProvider(settings.rpcUrl, { timeoutMs: settings.rpcTimeoutMs }) : null;
    const answerFromKnown = runtime.knownVerdicts && provider ? createKnownAnswers({ known: runtime.knownVerdicts, chain: provider, maxBlocks: settings.logsChunk }) : undefined;
    const handlers = createHandlers({ chainFor: chains.chainFor, checkRpcUrl: chains.checkRpcUrl, answerFromKnown, now: runtime.now });
    return {
      handle: handlers.onManifestChecked,
      close: async () => {
        provider?.destroy();
        await chains.close();
      },
    };
  },
});
