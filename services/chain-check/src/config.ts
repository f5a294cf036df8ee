import type { ChainEndpointConfig } from "@veriflow/adapters";
import { EnvReader, readCommonConfig, readStageConfig, readTopologyConfig, type CommonConfig, type Env, type StageConfig, type TopologyConfig } from "@veriflow/platform";

export interface ChainCheckConfig extends CommonConfig {
  stage: StageConfig;
  topology: TopologyConfig;
  chain: ChainEndpointConfig;
}

export function loadConfig(env: Env): ChainCheckConfig {
  const r = new EnvReader(env);
  const config: ChainCheckConfig = {
    ...readCommonConfig(r, 9104),
    // Reads are batched: many jobs in flight make big batches, so the chain isn't the bottleneck.
    stage: readStageConfig(r, "CHAIN_CHECK", { concurrency: 256 }),
    topology: readTopologyConfig(r),
    chain: {
      rpcUrl: r.url("RPC_URL", "http://127.0.0.1:8545")!,
      rpcUrlAllowlist: r.list("RPC_URL_ALLOWLIST"),
      rpcTimeoutMs: r.int("RPC_TIMEOUT_MS", 10_000, { min: 100 }),
      maxBatch: r.int("CHAIN_MAX_BATCH", 100, { min: 1, max: 1000 }),
      maxInFlight: r.int("CHAIN_MAX_IN_FLIGHT", 4, { min: 1, max: 64 }),
      logsFromBlock: r.int("CHAIN_LOGS_FROM_BLOCK", 0, { min: 0 }),
      logsChunk: r.int("CHAIN_LOGS_CHUNK", 10_000, { min: 1 }),
      logsMaxRange: r.int("CHAIN_LOGS_MAX_RANGE", 1_000_000, { min: 1 }),
    },
  };
  r.done();
  return config;
}
