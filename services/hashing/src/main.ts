import { runMain } from "@veriflow/platform";
import { loadConfig } from "./config.js";
import { startHashingService } from "./service.js";

await runMain("hashing", loadConfig, startHashingService);
