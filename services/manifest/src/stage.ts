import { createManifestFetcher, readManifestFetchConfig } from "@veriflow/adapters";
import { defineStage } from "@veriflow/pipeline";
import { createHandlers } from "./handlers.js";

/** The manifest stage, wherever it runs: its own service, or the gateway's fallback. */
export const stageModule = defineStage({
  stage: "manifest",
  // Fetching is I/O-bound: many in flight keep throughput up while each waits.
  defaultConcurrency: 64,
  readSettings: readManifestFetchConfig,
  create(settings, runtime) {
    const fetcher = createManifestFetcher(settings, runtime.log);
    const handlers = createHandlers({ fetchManifest: (uri) => fetcher.fetchManifest(uri), now: runtime.now });
    return { handle: handlers.onContentHashed, close: () => fetcher.close() };
  },
});
