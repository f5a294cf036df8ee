import { fileURLToPath } from "node:url";
import type { Schema } from "@veriflow/pg";

/**
 * registry-watch's tables: its migrations ship beside the build output
 * (services/registry-watch/migrations), recorded in a table of their own since the database
 * server may be shared with status and webhooks.
 */
export const schema: Schema = { owner: "registry-watch", dir: fileURLToPath(new URL("../migrations", import.meta.url)), table: "registry_watch_schema_migrations" };
