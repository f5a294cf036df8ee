import { consumers } from "@veriflow/events";
import { Shutdown, type Logger, type RunningService } from "@veriflow/platform";
import { connectNats, deleteUpload, hashUpload, openUploadsBucket, startStage } from "@veriflow/nats";
import { startOpsServer } from "@veriflow/http";
import type { HashingConfig } from "./config.js";
import { createHandlers } from "./handlers.js";

/** The composition: NATS → uploads bucket → handlers → consume loop → ops endpoints. */
export async function startHashingService(config: HashingConfig, log: Logger): Promise<RunningService> {
  const shutdown = new Shutdown(log);
  const nats = await connectNats({ url: config.natsUrl, name: "veriflow-hashing", log });
  shutdown.add("nats", () => nats.close());
  const uploads = await openUploadsBucket(nats.js, config.topology);

  const handlers = createHandlers({
    hashUpload: (upload) => hashUpload(nats.js, nats.jsm, uploads, upload),
    now: () => new Date(),
  });
  const loop = await startStage({
    nats,
    topology: config.topology,
    stage: "hashing",
    consumer: consumers.hashing,
    eventType: "verification.requested",
    handle: handlers.onVerificationRequested,
    // The upload is no longer needed once its hash is safely published and acked.
    afterAck: (event) => deleteUpload(nats.jsm, uploads, event.data.upload),
    config: config.stage,
    log,
  });
  shutdown.add("consumer", () => loop.stop());

  const ops = await startOpsServer(config.opsPort, () => nats.isConnected());
  shutdown.add("ops", () => ops.close());
  log.info({ opsPort: ops.port }, "hashing ready");
  return { opsPort: ops.port, stop: () => shutdown.run() };
}
