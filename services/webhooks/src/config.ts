import { readAuthConfig, type AuthConfig } from "@veriflow/auth";
import { opsPortOf } from "@veriflow/events";
import { EnvReader, readCommonConfig, type CommonConfig, type Env } from "@veriflow/platform";
import { readBackoffPolicy, readTopologyConfig, type BackoffPolicy, type TopologyConfig } from "@veriflow/nats";
import { readHttpServerLimits, type HttpServerLimits } from "@veriflow/http";
import { readPostgresConfig, readRetentionConfig, type PostgresConfig, type RetentionConfig } from "@veriflow/pg";
import { DEFAULT_RETRY_SCHEDULE_MS } from "./retry-schedule.js";
import { DEVELOPMENT_SECRETS_KEY, parseSecretsKey } from "./secret-box.js";

export interface WebhooksConfig extends CommonConfig {
  port: number;
  host: string;
  /** Headers, idle and keep-alive timeouts, minimum upload rate, connection cap (HTTP_*). */
  http: HttpServerLimits;
  /** DATABASE_URL, pool size, connect and statement timeouts. */
  database: PostgresConfig;
  /** How long finished rows are kept (RETENTION_*), and how often they are pruned. */
  retention: RetentionConfig;
  /**
   * WEBHOOK_SIGNING_SECRET: tenant default's first secret for signing job callbacks (what
   * signed every callback before tenants), kept in the database on first use; null: generated.
   * Each tenant's secret is then rotated through the API (subscriptions have their own).
   */
  signingSecret: string | null;
  /**
   * WEBHOOK_SECRETS_KEY: seals subscription and signing secrets at rest (AES-256-GCM).
   * Required in production; elsewhere a public development key stands in (`secretsKeyIsPublic`).
   */
  secretsKey: Buffer;
  secretsKeyIsPublic: boolean;
  /** How REST callers are authenticated (API_KEYS, the key store's cache, ALLOW_ANONYMOUS). */
  auth: AuthConfig;
  /** Private/loopback hosts deliveries may reach (local use; empty in production). */
  allowedPrivateHosts: string[];
  /** Deadline of one attempt: connect, send, and the response's headers and body. */
  timeoutMs: number;
  /** No attempt starts later than this after the delivery was created. */
  maxAgeMs: number;
  /** Deliveries in flight at once, per replica. */
  concurrency: number;
  /** Delay before attempt n+1 is retrySchedule[n-1] (the last repeats), ±20 % jitter. */
  retryScheduleMs: number[];
  /** How often the worker looks for due deliveries (new ones wake it at once). */
  pollIntervalMs: number;
  /** Most events the consumer turns into deliveries in one transaction. */
  maxBatch: number;
  /** How long an event reaching an idle intake waits for others to share its transaction. */
  batchLingerMs: number;
  /** Deliveries on which an event failed on its own before the consumer dead-letters it. */
  intakeMaxAttempts: number;
  /** Backoff of the consumer when the database refuses a batch. */
  backoff: BackoffPolicy;
  topology: TopologyConfig;
}

const MIN_SECRET_LENGTH = 24;

export function loadConfig(env: Env): WebhooksConfig {
  const r = new EnvReader(env);
  const production = env.NODE_ENV === "production";
  const signingSecret = r.string("WEBHOOK_SIGNING_SECRET") ?? null;
  const rawKey = r.string("WEBHOOK_SECRETS_KEY");
  const secretsKey = rawKey === undefined ? null : parseSecretsKey(rawKey);
  if (rawKey === undefined && production) {
    r.problems.push("WEBHOOK_SECRETS_KEY is required in production (NODE_ENV=production): 32 random bytes, e.g. `openssl rand -base64 32`; it seals webhook secrets at rest");
  }
  if (rawKey !== undefined && secretsKey === null) r.problems.push("WEBHOOK_SECRETS_KEY must be 32 bytes, as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)");
  if (signingSecret !== null && signingSecret.length < MIN_SECRET_LENGTH) {
    r.problems.push(`WEBHOOK_SIGNING_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  const config: WebhooksConfig = {
    ...readCommonConfig(r, opsPortOf("webhooks")),
    port: r.int("WEBHOOKS_PORT", 3003, { min: 0, max: 65535 }),
    host: r.string("WEBHOOKS_HOST", "0.0.0.0"),
    http: readHttpServerLimits(r),
    database: readPostgresConfig(r),
    retention: readRetentionConfig(r),
    signingSecret,
    secretsKey: secretsKey ?? DEVELOPMENT_SECRETS_KEY,
    secretsKeyIsPublic: secretsKey === null,
    auth: readAuthConfig(r),
    allowedPrivateHosts: r.list("WEBHOOK_ALLOWED_PRIVATE_HOSTS"),
    timeoutMs: r.int("WEBHOOK_TIMEOUT_MS", 10_000, { min: 100, max: 120_000 }),
    maxAgeMs: r.int("WEBHOOK_MAX_AGE_MS", 24 * 3_600_000, { min: 1000 }),
    concurrency: r.int("WEBHOOK_CONCURRENCY", 32, { min: 1, max: 1000 }),
    retryScheduleMs: readSchedule(r),
    pollIntervalMs: r.int("WEBHOOK_POLL_INTERVAL_MS", 1000, { min: 10, max: 60_000 }),
    maxBatch: r.int("WEBHOOK_MAX_BATCH", 200, { min: 1, max: 5000 }),
    batchLingerMs: r.int("WEBHOOK_BATCH_LINGER_MS", 5, { min: 0, max: 1000 }),
    intakeMaxAttempts: r.int("WEBHOOK_INTAKE_MAX_ATTEMPTS", 5, { min: 1, max: 100 }),
    backoff: readBackoffPolicy(r),
    topology: readTopologyConfig(r),
  };
  r.done();
  return config;
}

/** WEBHOOK_RETRY_SCHEDULE_MS: comma-separated delays in milliseconds, e.g. "5000,30000,120000". */
function readSchedule(r: EnvReader): number[] {
  const raw = r.list("WEBHOOK_RETRY_SCHEDULE_MS");
  if (raw.length === 0) return [...DEFAULT_RETRY_SCHEDULE_MS];
  const delays = raw.map(Number);
  if (delays.some((d) => !Number.isInteger(d) || d < 1)) {
    r.problems.push(`WEBHOOK_RETRY_SCHEDULE_MS must be positive integers (milliseconds), got "${raw.join(",")}"`);
    return [...DEFAULT_RETRY_SCHEDULE_MS];
  }
  return delays;
}
