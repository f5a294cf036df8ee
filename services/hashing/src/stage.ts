import { defineStage } from "@veriflow/pipeline";
import { createHandlers, ownUpload } from "./handlers.js";

/** The hashing stage, wherever it runs: its own service, or the gateway's fallback. */
export const stageModule = defineStage({
  stage: "hashing",
  // Most uploads are one direct get: many in flight hide the round trips.
  defaultConcurrency: 32,
  readSettings: () => ({}),
  create(_settings, runtime) {
    const handlers = createHandlers({ hashUpload: (upload) => runtime.uploads.hash(upload), now: runtime.now });
    return {
      handle: handlers.onVerificationRequested,
      // The upload is no longer needed once its hash, or the job's failure (the stage gave up:
      // the job is over), is safely published and the request acked. Only the job's own: an
      // upload another request names is that job's business.
      afterAck: async (event) => {
        const upload = ownUpload(event);
        if (upload) await runtime.uploads.release(upload);
      },
      close: async () => {},
    };
  },
});
