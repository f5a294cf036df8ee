import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueApiKey } from "@veriflow/auth";
import { ConfigError, createSilentLogger, type ServiceDefinition } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { service as gateway } from "../../services/gateway/src/service.js";
import { service as status } from "../../services/status/src/service.js";
import { service as webhooks } from "../../services/webhooks/src/service.js";

// In production a service that authenticates never runs open: with neither API_KEYS nor a key
// in the table it refuses to start (before it connects to NATS), and says how to make a key.
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const production = () => ({
  NODE_ENV: "production",
  DATABASE_URL: db.url,
  WEBHOOK_SECRETS_KEY: Buffer.alloc(32, 7).toString("base64"),
  LOG_LEVEL: "silent",
});

/** Start refused with a ConfigError naming the way in; its migrations ran, so the first key can be made at once. */
async function refusesToStart<C extends { logLevel: string }>(definition: ServiceDefinition<C>): Promise<void> {
  await expect(definition.start(definition.loadConfig(production()), createSilentLogger())).rejects.toThrow(ConfigError);
  await expect(definition.start(definition.loadConfig(production()), createSilentLogger())).rejects.toThrow(/no API key exists .*veriflow keys create/);
  expect(await issueApiKey(db.sql, { tenant: "acme", scopes: ["admin"], expiresAt: null })).toMatchObject({ record: { tenant: "acme" } });
  await db.sql`truncate api_keys`;
}

describe("NODE_ENV=production without any key", () => {
  it("the gateway refuses to start", () => refusesToStart(gateway));
  it("status refuses to start", () => refusesToStart(status));
  it("webhooks refuses to start", () => refusesToStart(webhooks));
});
