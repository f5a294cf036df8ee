import { runMain } from "@veriflow/platform";
import { loadConfig } from "./config.js";
import { startWebhooksService } from "./service.js";

await runMain("webhooks", loadConfig, startWebhooksService);
