import { createKnownAnswers, createManifestFetcher, createRpcProvider, readChainEndpointConfig, readManifestFetchConfig } from "@veriflow/adapters";
import { defineStage } from "@veriflow/pipeline";
import { createHandlers } from "./handlers.js";

/** The manifest stage, wherever it runs: its own service, or the gateway's fallback. */
export const stageModule = defineStage({
  stage: "manifest",
  // Fetching is I/O-bound: many in flight keep throughput up while each waits.
  defaultConcurrency: 64,
  // The chain's settings (RPC_URL, …) serve answering from known verdicts: whether the entry changed since.
  readSettings: (r) => ({ fetch: readManifestFetchConfig(r), chain: readChainEndpointConfig(r) }),
  create(settings, runtime) {
    const fetcher = createManifestFetcher(settings.fetch, runtime.log);
    const provider = runtime.knownVerdicts ? createRpcProvider(settings.chain.rpcUrl, { timeoutMs: settings.chain.rpcTimeoutMs }) : null;
    const answers = runtime.knownVerdicts && provider ? createKnownAnswers({ known: runtime.knownVerdicts, chain: provider, maxBlocks: settings.chain.logsChunk }) : undefined;
    // Checked here only to skip the fetch when the verdict is likely to hold: chain-check checks again before it answers.
    const findKnown = answers && (async (...args: Parameters<typeof answers>) => {
      const answer = await answers(...args);
      return answer.reuse ? answer.known : null;
    });
    const handlers = createHandlers({ fetchManifest: (uri) => fetcher.fetchManifest(uri), findKnown, now: runtime.now });
    return {
      handle: handlers.onContentHashed,
      close: async () => {
        provider?.destroy();
        await fetcher.close();
      },
    };
  },
});
