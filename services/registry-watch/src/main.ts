import { runMain } from "@veriflow/platform";
import { service } from "./service.js";

await runMain(service);
