import { EnvReader, readCommonConfig, readStageConfig, readTopologyConfig, type CommonConfig, type Env, type StageConfig, type TopologyConfig } from "@veriflow/platform";

export interface ManifestConfig extends CommonConfig {
  stage: StageConfig;
  topology: TopologyConfig;
  fetch: {
    /** IPFS HTTP gateways, tried in order; each must speak the trustless-gateway protocol. */
    ipfsGateways: string[];
    timeoutMs: number;
    maxBytes: number;
    allowHttp: boolean;
    /** Hosts (name, IP, or host:port) exempt from the private-address guard. Empty in production. */
    allowedPrivateHosts: string[];
  };
}

export function loadConfig(env: Env): ManifestConfig {
  const r = new EnvReader(env);
  const gateways = r.list("IPFS_GATEWAYS", ["https://trustless-gateway.link", "https://ipfs.io"]);
  for (const g of gateways) {
    try {
      if (!/^https?:$/.test(new URL(g).protocol)) r.problems.push(`IPFS_GATEWAYS: "${g}" must be an http(s) URL`);
    } catch {
      r.problems.push(`IPFS_GATEWAYS: "${g}" is not a URL`);
    }
  }
  const config: ManifestConfig = {
    ...readCommonConfig(r, 9103),
    // Fetching is I/O-bound: many in flight keep throughput up while each waits.
    stage: readStageConfig(r, "MANIFEST", { concurrency: 64 }),
    topology: readTopologyConfig(r),
    fetch: {
      ipfsGateways: gateways,
      timeoutMs: r.int("MANIFEST_TIMEOUT_MS", 5000, { min: 100 }),
      maxBytes: r.int("MANIFEST_MAX_BYTES", 256 * 1024, { min: 1024 }),
      allowHttp: r.bool("MANIFEST_ALLOW_HTTP", false),
      allowedPrivateHosts: r.list("ALLOWED_PRIVATE_HOSTS"),
    },
  };
  r.done();
  return config;
}
