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

  it("bounds admission and the idempotency records, and refuses an uploads bucket smaller than the largest upload", () => {
    expect(loadConfig({})).toMatchObject({ maxBacklog: 10_000, fallbackConcurrency: 16, idempotency: { ttlMs: 86_400_000, maxBytes: 64 * 1024 ** 2, replicas: 1 } });
    expect(() => loadConfig({ GATEWAY_MAX_UPLOAD_BYTES: "2000000", UPLOADS_MAX_BYTES: "1000000" })).toThrow(/UPLOADS_MAX_BYTES \(1000000\) must be >= GATEWAY_MAX_UPLOAD_BYTES/);
    // Keys are promised for 24 h: a shorter lifetime is refused.
    expect(() => loadConfig({ IDEMPOTENCY_TTL_MS: "3600000" })).toThrow(/IDEMPOTENCY_TTL_MS must be >= 86400000/);
  });

  it("sets the HTTP server's limits explicitly, and refuses an idle timeout a sync wait or an upload window would outlast", () => {
    expect(loadConfig({}).http).toEqual({ headersTimeoutMs: 20_000, idleTimeoutMs: 120_000, keepAliveTimeoutMs: 5_000, minUploadBytesPerSecond: 8192, uploadRateWindowMs: 30_000, maxConnections: 1024 });
    expect(loadConfig({ HTTP_MIN_UPLOAD_BYTES_PER_SEC: "0", HTTP_MAX_CONNECTIONS: "10" }).http).toMatchObject({ minUploadBytesPerSecond: 0, maxConnections: 10 });
    expect(() => loadConfig({ HTTP_IDLE_TIMEOUT_MS: "30000" })).toThrow(/HTTP_IDLE_TIMEOUT_MS \(30000\) must be > GATEWAY_SYNC_TIMEOUT_MS/);
    expect(() => loadConfig({ HTTP_IDLE_TIMEOUT_MS: "60000", HTTP_UPLOAD_RATE_WINDOW_MS: "90000" })).toThrow(/must be >= HTTP_UPLOAD_RATE_WINDOW_MS/);
  });
});
