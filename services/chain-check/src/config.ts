import { readChainEndpointConfig, type ChainEndpointConfig } from "@veriflow/adapters";
import { EnvReader, readCommonConfig, type CommonConfig, type Env } from "@veriflow/platform";
import { readStageConfig, readTopologyConfig, type StageConfig, type TopologyConfig } from "@veriflow/nats";

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
    chain: readChainEndpointConfig(r),
  };
  r.done();
  return config;
}
