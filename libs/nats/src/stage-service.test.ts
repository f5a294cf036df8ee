import { ConfigError } from "@veriflow/platform";
import type { StageModule } from "@veriflow/pipeline";
import { describe, expect, it } from "vitest";
import { loadStageServiceConfig, retryHorizonMs } from "./stage-service.js";

const hashing: StageModule<"hashing", object> = {
  stage: "hashing",
  defaultConcurrency: 1,
  readSettings: () => ({}),
  create: () => ({ handle: async () => [], close: async () => {} }),
};

describe("the duplicate window outlasts a stage's retry horizon", () => {
  it("holds with the defaults: 5 attempts × (30 s ack wait + 30 s largest backoff) = the 5 min window", () => {
    const config = loadStageServiceConfig(hashing, {});
    expect(retryHorizonMs(config.stage, config.topology)).toBe(300_000);
    expect(config.topology.duplicateWindowMs).toBe(300_000);
  });

  it("is a configuration error when more attempts or a longer ack wait would outlast the window", () => {
    expect(() => loadStageServiceConfig(hashing, { HASHING_MAX_ATTEMPTS: "10" })).toThrow(ConfigError);
    expect(() => loadStageServiceConfig(hashing, { CONSUMER_ACK_WAIT_MS: "120000" })).toThrow(/STREAM_DUPLICATE_WINDOW_MS \(300000\) must be >= HASHING_MAX_ATTEMPTS/);
    expect(() => loadStageServiceConfig(hashing, { HASHING_MAX_ATTEMPTS: "10", STREAM_DUPLICATE_WINDOW_MS: "600000" })).not.toThrow();
  });
});
