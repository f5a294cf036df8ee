import { readManifestFetchConfig, type ManifestFetchConfig } from "@veriflow/adapters";
import { EnvReader, readCommonConfig, type CommonConfig, type Env } from "@veriflow/platform";
import { readStageConfig, readTopologyConfig, type StageConfig, type TopologyConfig } from "@veriflow/nats";

export interface ManifestConfig extends CommonConfig {
  stage: StageConfig;
  topology: TopologyConfig;
  fetch: ManifestFetchConfig;
}

export function loadConfig(env: Env): ManifestConfig {
  const r = new EnvReader(env);
  const config: ManifestConfig = {
    ...readCommonConfig(r, 9103),
    // Fetching is I/O-bound: many in flight keep throughput up while each waits.
    stage: readStageConfig(r, "MANIFEST", { concurrency: 64 }),
    topology: readTopologyConfig(r),
    fetch: readManifestFetchConfig(r),
  };
  r.done();
  return config;
}
