import { runMain } from "@veriflow/platform";
import { loadConfig } from "./config.js";
import { startManifestService } from "./service.js";

await runMain("manifest", loadConfig, startManifestService);
