import { defineStageService } from "@veriflow/nats";
import { stageModule } from "./stage.js";

/** A stage service is its stage module run over JetStream (see libs/nats stage-service.ts). */
export const service = defineStageService(stageModule);
