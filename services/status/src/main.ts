import { runMain } from "@veriflow/platform";
import { loadConfig } from "./config.js";
import { startStatusService } from "./service.js";

await runMain("status", loadConfig, startStatusService);
