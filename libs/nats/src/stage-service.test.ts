import { ConfigError } from "@veriflow/platform";
import type { StageModule } from "@veriflow/pipeline";
import { describe, expect, it } from "vitest";
import { loadStageServiceConfig, retryHorizonMs } from "./stage-service.js";
import { MIN_ORPHAN_GRACE_MS } from "./upload-sweep.js";

const hashing: StageModule<"hashing", object> = {
  stage: "hashing",
  defaultConcurrency: 1,
  readSettings: () => ({}),
  create: () => ({ handle: async () => [], close: async () => {} }),
};

describe("the duplicate window outlasts a stage's retry horizon", () => {
  it("holds with the defaults: 5 attempts × (8 s ack wait + 30 s largest backoff) = 190 s, inside the 5 min window", () => {
    const config = loadStageServiceConfig(hashing, {});
    expect(retryHorizonMs(config.stage, config.topology)).toBe(190_000);
    expect(config.topology.duplicateWindowMs).toBe(300_000);
  });

  it("is a configuration error when more attempts or a longer ack wait would outlast the window", () => {
    expect(() => loadStageServiceConfig(hashing, { HASHING_MAX_ATTEMPTS: "10" })).toThrow(ConfigError);
    expect(() => loadStageServiceConfig(hashing, { CONSUMER_ACK_WAIT_MS: "120000" })).toThrow(/STREAM_DUPLICATE_WINDOW_MS \(300000\) must be >= HASHING_MAX_ATTEMPTS/);
    expect(() => loadStageServiceConfig(hashing, { HASHING_MAX_ATTEMPTS: "10", STREAM_DUPLICATE_WINDOW_MS: "600000" })).not.toThrow();
  });
});

describe("the upload sweep's settings", () => {
  const manifest: StageModule<"manifest", object> = { ...hashing, stage: "manifest" } as unknown as StageModule<"manifest", object>;

  it("are read by the stage that reads uploads (hashing) only, every 5 min by default", () => {
    expect(loadStageServiceConfig(hashing, {}).uploadSweep).toEqual({ intervalMs: 300_000, minAgeMs: 120_000, orphanGraceMs: 600_000 });
    expect(loadStageServiceConfig(hashing, { UPLOADS_SWEEP_INTERVAL_MS: "0" }).uploadSweep?.intervalMs).toBe(0);
    expect(loadStageServiceConfig(manifest, { UPLOADS_SWEEP_INTERVAL_MS: "oops" }).uploadSweep).toBeNull();
  });

  it("refuse a grace for uploads without a request shorter than the gateway's publish can take", () => {
    expect(() => loadStageServiceConfig(hashing, { UPLOADS_SWEEP_GRACE_MS: "5000" })).toThrow(`UPLOADS_SWEEP_GRACE_MS must be >= ${MIN_ORPHAN_GRACE_MS}`);
    expect(() => loadStageServiceConfig(hashing, { UPLOADS_SWEEP_GRACE_MS: String(MIN_ORPHAN_GRACE_MS) })).not.toThrow();
  });
});
