import { defineStageService } from "@veriflow/nats";
import { stageModule } from "./stage.js";

/**
 * A stage service is its stage module run over JetStream (see libs/nats stage-service.ts).
 * Hashing, the stage that reads uploads, also sweeps the uploads bucket for uploads left
 * behind (libs/nats upload-sweep.ts).
 */
export const service = defineStageService(stageModule);
