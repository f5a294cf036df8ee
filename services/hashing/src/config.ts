import { EnvReader, readCommonConfig, readStageConfig, readTopologyConfig, type CommonConfig, type Env, type StageConfig, type TopologyConfig } from "@veriflow/platform";

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
