import { opsPortOf } from "@veriflow/events";
import { readChainEndpointConfig, readManifestFetchConfig, type RpcUrlPolicy } from "@veriflow/adapters";
import { readApiKeys } from "@veriflow/http";
import { EnvReader, readCommonConfig, type CommonConfig, type Env } from "@veriflow/platform";
import { readTopologyConfig, type TopologyConfig } from "@veriflow/nats";

export interface GatewayConfig extends CommonConfig {
  port: number;
  /** Port of the gRPC SubmissionService (bound on `host`); 0 picks a free one. */
  grpcPort: number;
  host: string;
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** Where the status service answers the job routes this gateway fronts. */
  statusUrl: string;
  /** Accepted API keys; empty means the job routes are open (logged loudly at start). */
  apiKeys: string[];
  /** Where the webhooks service answers the /api/webhooks routes this gateway fronts. */
  webhooksUrl: string;
  /** Private/loopback hosts a job's callbackUrl may name (local use; empty in production). */
  webhookAllowedPrivateHosts: string[];
  topology: TopologyConfig;
  /** How long /api/verify, /api/proof wait for the job before answering 202 (also caps `?wait=`). */
  syncTimeoutMs: number;
  /**
   * The environment the in-process fallback reads every stage's own settings from (RPC_URL,
   * IPFS_GATEWAYS, …), exactly as each stage's service reads them: which stages exist is
   * known only once their modules are loaded at start.
   */
  stageEnv: Env;
  /**
   * What submissions are checked against: the values the stages themselves read
   * (MANIFEST_ALLOW_HTTP, RPC_URL, RPC_URL_ALLOWLIST), through the same readers.
   */
  submission: { allowHttpManifests: boolean; rpcUrls: RpcUrlPolicy };
}

export function loadConfig(env: Env): GatewayConfig {
  const r = new EnvReader(env);
  const config: GatewayConfig = {
    ...readCommonConfig(r, opsPortOf("gateway")),
    port: r.int("GATEWAY_PORT", 3001, { min: 0, max: 65535 }),
    grpcPort: r.int("GATEWAY_GRPC_PORT", 50051, { min: 0, max: 65535 }),
    host: r.string("GATEWAY_HOST", "0.0.0.0"),
    maxUploadBytes: r.int("GATEWAY_MAX_UPLOAD_BYTES", 2 * 1024 ** 3, { min: 1 }),
    statusUrl: r.url("STATUS_URL", "http://127.0.0.1:3002")!,
    apiKeys: readApiKeys(r),
    webhooksUrl: r.url("WEBHOOKS_URL", "http://127.0.0.1:3003")!,
    webhookAllowedPrivateHosts: r.list("WEBHOOK_ALLOWED_PRIVATE_HOSTS"),
    topology: readTopologyConfig(r),
    syncTimeoutMs: r.int("GATEWAY_SYNC_TIMEOUT_MS", 30_000, { min: 1 }),
    stageEnv: env,
    submission: { allowHttpManifests: readManifestFetchConfig(r).allowHttp, rpcUrls: readChainEndpointConfig(r) },
  };
  // The old system's job routes had no authentication. Open routes are fine on a laptop;
  // a production deployment must choose them explicitly, never get them by omission.
  if (env.NODE_ENV === "production" && config.apiKeys.length === 0 && !r.bool("GATEWAY_ALLOW_ANONYMOUS", false)) {
    r.problems.push("API_KEYS is required in production (NODE_ENV=production); set GATEWAY_ALLOW_ANONYMOUS=true to run the job routes open on purpose");
  }
  r.done();
  return config;
}
