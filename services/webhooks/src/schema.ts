import { fileURLToPath } from "node:url";
import type { Schema } from "@veriflow/pg";

/**
 * The webhooks service's tables: its migrations ship beside the build output
 * (services/webhooks/migrations). The service applies them at start; `veriflow setup` applies
 * them before a rollout (it imports this module by name, `@veriflow/webhooks/schema`).
 */
export const schema: Schema = { owner: "webhooks", dir: fileURLToPath(new URL("../migrations", import.meta.url)), table: "webhook_schema_migrations" };
