import { opsPortOf } from "@veriflow/events";
import { readChainEndpointConfig, readManifestFetchConfig, type RpcUrlPolicy } from "@veriflow/adapters";
import { readHttpServerLimits, type HttpServerLimits } from "@veriflow/http";
import { readAuthConfig, type AuthConfig } from "@veriflow/auth";
import { readPostgresConfig, type PostgresConfig } from "@veriflow/pg";
import { EnvReader, readCommonConfig, type CommonConfig, type Env } from "@veriflow/platform";
import { readGrpcServerLimits, type GrpcServerLimits } from "@veriflow/grpc";
import { readTopologyConfig, type HoldConfig, type IdempotencyBucketConfig, type TopologyConfig } from "@veriflow/nats";
import { DEFAULT_FALLBACK_CONCURRENCY } from "./fallback-pipeline.js";
import { readRateLimitConfig, type RateLimitConfig } from "./rate-limit-config.js";
import { DEFAULT_DASHBOARD_DIR } from "./dashboard.js";

export interface GatewayConfig extends CommonConfig {
  port: number;
  /** Port of the gRPC SubmissionService (bound on `host`); 0 picks a free one. */
  grpcPort: number;
  /** Idle and age limits, message sizes, the upload's idle timeout (GRPC_*). */
  grpc: GrpcServerLimits;
  host: string;
  /** Headers, idle and keep-alive timeouts, minimum upload rate, connection cap (HTTP_*). */
  http: HttpServerLimits;
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** Files per batch (GATEWAY_MAX_BATCH_FILES) and their bytes together (GATEWAY_MAX_BATCH_BYTES). */
  maxBatchFiles: number;
  maxBatchBytes: number;
  /** Where the status service answers the job routes this gateway fronts. */
  statusUrl: string;
  /** How callers are authenticated (API_KEYS, the key store's cache, ALLOW_ANONYMOUS). */
  auth: AuthConfig;
  /** DATABASE_URL and pool: the API keys (a lookup per key per AUTH_CACHE_TTL_MS, and the admin routes). */
  database: PostgresConfig;
  /** Where the webhooks service answers the /api/webhooks routes this gateway fronts. */
  webhooksUrl: string;
  /** The operator dashboard's build, served at /dashboard (GATEWAY_DASHBOARD_DIR; default web/dashboard/dist). */
  dashboardDir: string;
  /** Private/loopback hosts a job's callbackUrl may name (local use; empty in production). */
  webhookAllowedPrivateHosts: string[];
  topology: TopologyConfig;
  /** How long /api/verify, /api/proof wait for the job before answering 202 (also caps `?wait=`). */
  syncTimeoutMs: number;
  /** Unfinished jobs (pending + ack-pending of the stage consumers) past which submissions get 503. */
  maxBacklog: number;
  /** How long a submission is held (retried) while JetStream does not answer it, e.g. a stream without a leader (GATEWAY_HOLD_MS; 0: off). */
  hold: HoldConfig;
  /** In-process verifications at once while the queue is down; more get 503. */
  fallbackConcurrency: number;
  /** The Idempotency-Key records' bucket: how long a key is honoured, and its size. */
  idempotency: IdempotencyBucketConfig;
  /** Requests per window per API key (by tenant) and per client address; null when RATE_LIMITS=off. */
  rateLimits: RateLimitConfig | null;
  /**
   * Reverse proxies in front of the gateway whose X-Forwarded-For entries are trusted (0: none,
   * the socket's address is the client's). The client address is what per-address limits count.
   */
  trustedProxyHops: number;
  /**
   * The environment the in-process fallback reads every stage's own settings from (RPC_URL,
   * IPFS_GATEWAYS, …), exactly as each stage's service reads them: which stages exist is
   * known only once their modules are loaded at start.
   */
  stageEnv: Env;
  /**
   * What submissions are checked against: the values the stages themselves read
   * (MANIFEST_ALLOW_HTTP, ALLOWED_PRIVATE_HOSTS, RPC_URL, RPC_URL_ALLOWLIST), through the same readers.
   */
  submission: { allowHttpManifests: boolean; allowedPrivateHosts: string[]; rpcUrls: RpcUrlPolicy };
}

const DAY = 86_400_000;

const manifestPolicy = (m: { allowHttp: boolean; allowedPrivateHosts: string[] }) => ({ allowHttpManifests: m.allowHttp, allowedPrivateHosts: m.allowedPrivateHosts });

export function loadConfig(env: Env): GatewayConfig {
  const r = new EnvReader(env);
  const topology = readTopologyConfig(r);
  const config: GatewayConfig = {
    ...readCommonConfig(r, opsPortOf("gateway")),
    port: r.int("GATEWAY_PORT", 3001, { min: 0, max: 65535 }),
    grpcPort: r.int("GATEWAY_GRPC_PORT", 50051, { min: 0, max: 65535 }),
    grpc: readGrpcServerLimits(r),
    host: r.string("GATEWAY_HOST", "0.0.0.0"),
    http: readHttpServerLimits(r),
    maxUploadBytes: r.int("GATEWAY_MAX_UPLOAD_BYTES", 2 * 1024 ** 3, { min: 1 }),
    maxBatchFiles: r.int("GATEWAY_MAX_BATCH_FILES", 100, { min: 1, max: 10_000 }),
    maxBatchBytes: r.int("GATEWAY_MAX_BATCH_BYTES", 2 * 1024 ** 3, { min: 1 }),
    statusUrl: r.url("STATUS_URL", "http://127.0.0.1:3002")!,
    auth: readAuthConfig(r),
    database: readPostgresConfig(r),
    webhooksUrl: r.url("WEBHOOKS_URL", "http://127.0.0.1:3003")!,
    dashboardDir: r.string("GATEWAY_DASHBOARD_DIR", DEFAULT_DASHBOARD_DIR),
    webhookAllowedPrivateHosts: r.list("WEBHOOK_ALLOWED_PRIVATE_HOSTS"),
    topology,
    syncTimeoutMs: r.int("GATEWAY_SYNC_TIMEOUT_MS", 30_000, { min: 1 }),
    maxBacklog: r.int("GATEWAY_MAX_BACKLOG", 10_000, { min: 1 }),
    // 10 s: a stream at R3 had no leader for 4–8 s after its node died (issue 11's runs), 10.5 s on
    // a loaded 2-core box (leaderless-window.int.test.ts): nats-server 2.9 waits 4–9 s before an election.
    hold: { budgetMs: r.int("GATEWAY_HOLD_MS", 10_000, { min: 0, max: 60_000 }) },
    fallbackConcurrency: r.int("GATEWAY_FALLBACK_CONCURRENCY", DEFAULT_FALLBACK_CONCURRENCY, { min: 1, max: 10_000 }),
    idempotency: {
      // Promised to clients: a key answers the same job for 24 h at least.
      ttlMs: r.int("IDEMPOTENCY_TTL_MS", DAY, { min: DAY }),
      maxBytes: r.int("IDEMPOTENCY_MAX_BYTES", 64 * 1024 ** 2, { min: 64 * 1024 }),
      replicas: topology.replicas,
    },
    rateLimits: readRateLimitConfig(r),
    trustedProxyHops: r.int("GATEWAY_TRUSTED_PROXY_HOPS", 0, { min: 0, max: 10 }),
    stageEnv: env,
    submission: { ...manifestPolicy(readManifestFetchConfig(r)), rpcUrls: readChainEndpointConfig(r) },
  };
  // A request waiting for its verdict moves no byte either way: the idle timeout must outlast the wait.
  if (config.http.idleTimeoutMs <= config.syncTimeoutMs) {
    r.problems.push(`HTTP_IDLE_TIMEOUT_MS (${config.http.idleTimeoutMs}) must be > GATEWAY_SYNC_TIMEOUT_MS (${config.syncTimeoutMs})`);
  }
  // A bucket smaller than the largest upload would refuse that upload whatever else it holds.
  if (config.topology.uploadsMaxBytes < config.maxUploadBytes) {
    r.problems.push(`UPLOADS_MAX_BYTES (${config.topology.uploadsMaxBytes}) must be >= GATEWAY_MAX_UPLOAD_BYTES (${config.maxUploadBytes})`);
  }
  r.done();
  return config;
}
