import { runMain } from "@veriflow/platform";
import { loadConfig } from "./config.js";
import { startChainCheckService } from "./service.js";

await runMain("chain-check", loadConfig, startChainCheckService);
