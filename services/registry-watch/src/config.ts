import { opsPortOf } from "@veriflow/events";
import { EnvReader, readCommonConfig, type CommonConfig, type Env } from "@veriflow/platform";
import { readBackoffPolicy, readTopologyConfig, type BackoffPolicy, type TopologyConfig } from "@veriflow/nats";
import { readPostgresConfig, type PostgresConfig } from "@veriflow/pg";

export interface RegistryWatchConfig extends CommonConfig {
  /** DATABASE_URL: the checkpoints, the logs of the re-read window, the jobs it may re-verify. */
  database: PostgresConfig;
  /** RPC_URL: the chain the pipeline reads (jobs with a per-job rpcUrl are not followed). */
  rpcUrl: string;
  rpcTimeoutMs: number;
  /** REGISTRY_WATCH_CONFIRMATIONS: logs are read only once this many blocks are on top of theirs. */
  confirmations: number;
  /** REGISTRY_WATCH_REORG_DEPTH: each pass reads this many blocks below its checkpoint again, to see reorganisations. */
  reorgDepth: number;
  /** REGISTRY_WATCH_MAX_RANGE: most new blocks one getLogs reads (nodes cap the range). */
  maxRange: number;
  /** REGISTRY_WATCH_POLL_MS: how often the registries are read. */
  pollMs: number;
  /** Most events of the stream taken in one transaction, and how long an idle intake lingers for more. */
  maxBatch: number;
  batchLingerMs: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  topology: TopologyConfig;
}

export function loadConfig(env: Env): RegistryWatchConfig {
  const r = new EnvReader(env);
  const config: RegistryWatchConfig = {
    ...readCommonConfig(r, opsPortOf("registry-watch")),
    database: readPostgresConfig(r),
    rpcUrl: r.url("RPC_URL", "http://127.0.0.1:8545")!,
    rpcTimeoutMs: r.int("RPC_TIMEOUT_MS", 10_000, { min: 100 }),
    confirmations: r.int("REGISTRY_WATCH_CONFIRMATIONS", 2, { min: 0, max: 1000 }),
    reorgDepth: r.int("REGISTRY_WATCH_REORG_DEPTH", 12, { min: 0, max: 10_000 }),
    maxRange: r.int("REGISTRY_WATCH_MAX_RANGE", 2000, { min: 1, max: 100_000 }),
    pollMs: r.int("REGISTRY_WATCH_POLL_MS", 4000, { min: 50, max: 600_000 }),
    maxBatch: r.int("REGISTRY_WATCH_MAX_BATCH", 200, { min: 1, max: 5000 }),
    batchLingerMs: r.int("REGISTRY_WATCH_BATCH_LINGER_MS", 5, { min: 0, max: 1000 }),
    maxAttempts: r.int("REGISTRY_WATCH_MAX_ATTEMPTS", 5, { min: 1, max: 100 }),
    backoff: readBackoffPolicy(r),
    topology: readTopologyConfig(r),
  };
  r.done();
  return config;
}
