import { runMain } from "@veriflow/platform";
import { loadConfig } from "./config.js";
import { startGatewayService } from "./service.js";

await runMain("gateway", loadConfig, startGatewayService);
