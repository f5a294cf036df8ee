import { EnvReader, readCommonConfig, type CommonConfig, type Env } from "@veriflow/platform";
import { readStageConfig, readTopologyConfig, type StageConfig, type TopologyConfig } from "@veriflow/nats";

export interface HashingConfig extends CommonConfig {
  stage: StageConfig;
  topology: TopologyConfig;
}

export function loadConfig(env: Env): HashingConfig {
  const r = new EnvReader(env);
  const config = {
    ...readCommonConfig(r, 9102),
    // Most uploads are one direct get: many in flight hide the round trips.
    stage: readStageConfig(r, "HASHING", { concurrency: 32 }),
    topology: readTopologyConfig(r),
  };
  r.done();
  return config;
}
