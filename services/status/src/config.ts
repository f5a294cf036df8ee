import { opsPortOf } from "@veriflow/events";
import { readGrpcServerLimits, type GrpcServerLimits } from "@veriflow/grpc";
import { readHttpServerLimits, type HttpServerLimits } from "@veriflow/http";
import { readAuthConfig, type AuthConfig } from "@veriflow/auth";
import { EnvReader, readCommonConfig, type CommonConfig, type Env } from "@veriflow/platform";
import { readBackoffPolicy, readTopologyConfig, type BackoffPolicy, type TopologyConfig } from "@veriflow/nats";
import { readPostgresConfig, readRetentionConfig, type PostgresConfig, type RetentionConfig } from "@veriflow/pg";
import { DEFAULT_WATCH_MAX_BUFFERED } from "./job-watch.js";

export interface StatusConfig extends CommonConfig {
  port: number;
  host: string;
  /** Headers, idle and keep-alive timeouts, minimum upload rate, connection cap (HTTP_*). */
  http: HttpServerLimits;
  /** DATABASE_URL, pool size, connect and statement timeouts. */
  database: PostgresConfig;
  /** How long finished rows are kept (RETENTION_*), and how often they are pruned. */
  retention: RetentionConfig;
  /** Most events projected in one transaction. */
  maxBatch: number;
  /** How long an event reaching an idle projection waits for others to share its transaction. */
  batchLingerMs: number;
  /** Deliveries on which an event failed on its own before it is dead-lettered. */
  maxAttempts: number;
  backoff: BackoffPolicy;
  topology: TopologyConfig;
  /** Port of the gRPC JobService (bound on `host`); 0 picks a free one. */
  grpcPort: number;
  /** Idle and age limits, message sizes (GRPC_*). */
  grpc: GrpcServerLimits;
  /** How REST and gRPC callers are authenticated (API_KEYS, the key store's cache, ALLOW_ANONYMOUS). */
  auth: AuthConfig;
  /** How often watched jobs are re-read even without a change notification (the safety net). */
  watchPollMs: number;
  /** How often an idle SSE stream sends a heartbeat comment. */
  sseHeartbeatMs: number;
  /** Most watches (SSE, WatchJob, WatchJobs) open at once on this replica. */
  maxWatches: number;
  /** How many jobs a WatchJobs reader may fall behind before its stream is closed. */
  watchMaxBuffered: number;
}

export function loadConfig(env: Env): StatusConfig {
  const r = new EnvReader(env);
  const config: StatusConfig = {
    ...readCommonConfig(r, opsPortOf("status")),
    port: r.int("STATUS_PORT", 3002, { min: 0, max: 65535 }),
    host: r.string("STATUS_HOST", "0.0.0.0"),
    http: readHttpServerLimits(r),
    database: readPostgresConfig(r),
    retention: readRetentionConfig(r),
    maxBatch: r.int("STATUS_MAX_BATCH", 500, { min: 1, max: 5000 }),
    batchLingerMs: r.int("STATUS_BATCH_LINGER_MS", 5, { min: 0, max: 1000 }),
    maxAttempts: r.int("STATUS_MAX_ATTEMPTS", 5, { min: 1, max: 100 }),
    backoff: readBackoffPolicy(r),
    topology: readTopologyConfig(r),
    grpcPort: r.int("STATUS_GRPC_PORT", 50052, { min: 0, max: 65535 }),
    grpc: readGrpcServerLimits(r),
    auth: readAuthConfig(r),
    watchPollMs: r.int("STATUS_WATCH_POLL_MS", 3000, { min: 100, max: 60_000 }),
    sseHeartbeatMs: r.int("STATUS_SSE_HEARTBEAT_MS", 15_000, { min: 100, max: 120_000 }),
    maxWatches: r.int("STATUS_MAX_WATCHES", 10_000, { min: 1 }),
    watchMaxBuffered: r.int("STATUS_WATCH_MAX_BUFFERED", DEFAULT_WATCH_MAX_BUFFERED, { min: 1, max: 1_000_000 }),
  };
  // An SSE stream is silent between heartbeats: the idle timeout must outlast one.
  if (config.http.idleTimeoutMs <= config.sseHeartbeatMs) {
    r.problems.push(`HTTP_IDLE_TIMEOUT_MS (${config.http.idleTimeoutMs}) must be > STATUS_SSE_HEARTBEAT_MS (${config.sseHeartbeatMs})`);
  }
  r.done();
  return config;
}
