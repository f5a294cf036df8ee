import { describe, expect, it } from "vitest";
import { ConfigError } from "@veriflow/platform";
import { loadConfig } from "./config.js";

// The key store's database: required, as for status and webhooks.
const DB = { DATABASE_URL: "postgres://veriflow@127.0.0.1:5432/veriflow" };

describe("gateway config", () => {
  it("needs DATABASE_URL: the API keys live there", () => {
    expect(() => loadConfig({})).toThrow(/DATABASE_URL is required/);
  });

  it("runs open in development while no key exists, and says nothing against it", () => {
    expect(loadConfig(DB).auth).toMatchObject({ bootstrapKeys: [], openWhenNoKeys: true });
  });

  it("never runs open in production unless that is chosen explicitly", () => {
    expect(loadConfig({ ...DB, NODE_ENV: "production" }).auth).toMatchObject({ openWhenNoKeys: false, production: true });
    expect(loadConfig({ ...DB, NODE_ENV: "production", API_KEYS: "k1, k2" }).auth.bootstrapKeys).toEqual(["k1", "k2"]);
    expect(loadConfig({ ...DB, NODE_ENV: "production", ALLOW_ANONYMOUS: "true" }).auth.openWhenNoKeys).toBe(true);
    // The variable's name from before status and webhooks checked keys too.
    expect(loadConfig({ ...DB, NODE_ENV: "production", GATEWAY_ALLOW_ANONYMOUS: "true" }).auth.openWhenNoKeys).toBe(true);
  });

  it("reports every problem at once", () => {
    try {
      loadConfig({ ...DB, GATEWAY_PORT: "seventy", STATUS_URL: "not a url", GATEWAY_SYNC_TIMEOUT_MS: "0" });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toHaveLength(3);
    }
  });

  it("bounds admission and the idempotency records, and refuses an uploads bucket smaller than the largest upload", () => {
    expect(loadConfig(DB)).toMatchObject({ maxBacklog: 10_000, fallbackConcurrency: 16, idempotency: { ttlMs: 86_400_000, maxBytes: 64 * 1024 ** 2, replicas: 1 } });
    expect(() => loadConfig({ ...DB, GATEWAY_MAX_UPLOAD_BYTES: "2000000", UPLOADS_MAX_BYTES: "1000000" })).toThrow(/UPLOADS_MAX_BYTES \(1000000\) must be >= GATEWAY_MAX_UPLOAD_BYTES/);
    // Keys are promised for 24 h: a shorter lifetime is refused.
    expect(() => loadConfig({ ...DB, IDEMPOTENCY_TTL_MS: "3600000" })).toThrow(/IDEMPOTENCY_TTL_MS must be >= 86400000/);
  });

  it("sets the HTTP server's limits explicitly, and refuses an idle timeout a sync wait or an upload window would outlast", () => {
    expect(loadConfig(DB).http).toEqual({ headersTimeoutMs: 20_000, idleTimeoutMs: 120_000, keepAliveTimeoutMs: 5_000, minUploadBytesPerSecond: 8192, uploadRateWindowMs: 30_000, maxConnections: 1024 });
    expect(loadConfig({ ...DB, HTTP_MIN_UPLOAD_BYTES_PER_SEC: "0", HTTP_MAX_CONNECTIONS: "10" }).http).toMatchObject({ minUploadBytesPerSecond: 0, maxConnections: 10 });
    expect(() => loadConfig({ ...DB, HTTP_IDLE_TIMEOUT_MS: "30000" })).toThrow(/HTTP_IDLE_TIMEOUT_MS \(30000\) must be > GATEWAY_SYNC_TIMEOUT_MS/);
    expect(() => loadConfig({ ...DB, HTTP_IDLE_TIMEOUT_MS: "60000", HTTP_UPLOAD_RATE_WINDOW_MS: "90000" })).toThrow(/must be >= HTTP_UPLOAD_RATE_WINDOW_MS/);
  });
});
