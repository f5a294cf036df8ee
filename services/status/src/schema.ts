import { fileURLToPath } from "node:url";
import type { Schema } from "@veriflow/pg";

/**
 * The status service's tables: its migrations ship beside the build output
 * (services/status/migrations). The service applies them at start; `veriflow setup` applies
 * them before a rollout (it imports this module by name, `@veriflow/status/schema`).
 */
export const schema: Schema = { owner: "status", dir: fileURLToPath(new URL("../migrations", import.meta.url)), table: "schema_migrations" };
