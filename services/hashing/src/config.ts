import { EnvReader, readCommonConfig, readStageConfig, readTopologyConfig, type CommonConfig, type Env, type StageConfig, type TopologyConfig } from "@veriflow/platform";

export interface HashingConfig extends CommonConfig {
  stage: StageConfig;
  topology: TopologyConfig;
}

export function loadConfig(env: Env): HashingConfig {
  const r = new EnvReader(env);
  const config = {
    ...readCommonConfig(r, 9102),
    // Hashing is CPU- and stream-bound: a few at a time keep a core busy.
    stage: readStageConfig(r, "HASHING", { concurrency: 8 }),
    topology: readTopologyConfig(r),
  };
  r.done();
  return config;
}
