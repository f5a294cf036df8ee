import { describe, expect, it } from "vitest";
import { ConfigError } from "@veriflow/platform";
import { loadConfig } from "./config.js";

describe("gateway config", () => {
  it("runs the job routes open in development, and says nothing against it", () => {
    expect(loadConfig({}).apiKeys).toEqual([]);
  });

  it("refuses to start open in production unless that is chosen explicitly", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/API_KEYS is required in production/);
    expect(loadConfig({ NODE_ENV: "production", API_KEYS: "k1, k2" }).apiKeys).toEqual(["k1", "k2"]);
    expect(loadConfig({ NODE_ENV: "production", GATEWAY_ALLOW_ANONYMOUS: "true" }).apiKeys).toEqual([]);
  });

  it("reports every problem at once", () => {
    try {
      loadConfig({ GATEWAY_PORT: "seventy", STATUS_URL: "not a url", GATEWAY_SYNC_TIMEOUT_MS: "0" });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toHaveLength(3);
    }
  });
});
