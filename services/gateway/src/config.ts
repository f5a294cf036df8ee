import { EnvReader, readCommonConfig, readTopologyConfig, type CommonConfig, type Env, type TopologyConfig } from "@veriflow/platform";

export interface GatewayConfig extends CommonConfig {
  port: number;
  host: string;
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** Where the status service answers the job routes this gateway fronts. */
  statusUrl: string;
  /** Accepted API keys; empty means the job routes are open (logged loudly at start). */
  apiKeys: string[];
  /** http:// manifest URIs are refused unless this is on (tests, local use). */
  allowHttpManifests: boolean;
  /** Per-job `rpcUrl` values allowed; "*" allows any; empty refuses them all. */
  rpcUrlAllowlist: string[];
  topology: TopologyConfig;
}

export function loadConfig(env: Env): GatewayConfig {
  const r = new EnvReader(env);
  const config: GatewayConfig = {
    ...readCommonConfig(r, 9101),
    port: r.int("GATEWAY_PORT", 3001, { min: 0, max: 65535 }),
    host: r.string("GATEWAY_HOST", "0.0.0.0"),
    maxUploadBytes: r.int("GATEWAY_MAX_UPLOAD_BYTES", 2 * 1024 ** 3, { min: 1 }),
    statusUrl: r.url("STATUS_URL", "http://127.0.0.1:3002")!,
    apiKeys: r.list("API_KEYS"),
    allowHttpManifests: r.bool("MANIFEST_ALLOW_HTTP", false),
    rpcUrlAllowlist: r.list("RPC_URL_ALLOWLIST"),
    topology: readTopologyConfig(r),
  };
  r.done();
  return config;
}
