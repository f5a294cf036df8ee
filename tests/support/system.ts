import { pipeline, serviceNames, type ServiceName } from "@veriflow/events";
import { MIGRATIONS_DIR } from "../../services/status/src/service.js";
import { NATS_CONFIG_FILE, createNatsPasswords, natsUserEnv, type NatsPasswords } from "../../deploy/local/src/nats-users.js";
import { createLogger, createSilentLogger, type Env, type RunningService, type ServiceDefinition } from "@veriflow/platform";
import {
  createTestDatabase,
  publishContent,
  type PublishContentInput,
  type PublishedContent,
  deployRegistry,
  findFreePort,
  startChain,
  startManifestServer,
  startNatsServer,
  type ChainHandle,
  type ManifestServer as ManifestServerHandle,
  type NatsServerHandle,
  type TestDatabase,
} from "@veriflow/testing";

export interface SystemOptions {
  /**
   * nats-server runs the generated deploy/nats/nats-server.conf (no anonymous clients) and each
   * service logs in as its own user, as in docker-compose.yml; `natsPasswords` has the passwords.
   */
  natsUsers?: boolean;
  /** Where the services' log lines go (at LOG_LEVEL), instead of stdout: a test that reads them. */
  logs?: Parameters<typeof createLogger>[2];
}

export interface System {
  gatewayUrl: string;
  statusUrl: string;
  /** host:port of the gateway's gRPC SubmissionService. */
  gatewayGrpcAddress: string;
  /** host:port of the status service's gRPC JobService. */
  statusGrpcAddress: string;
  webhooksUrl: string;
  nats: NatsServerHandle;
  db: TestDatabase;
  chain: ChainHandle;
  registry: string;
  manifests: ManifestServerHandle;
  env: Env;
  /** Each NATS user's password (NATS_<USER>_PASSWORD), when started with `natsUsers`; else null (anonymous). */
  natsPasswords: NatsPasswords | null;
  services: Record<ServiceName, RunningService>;
  /**
   * Starts another instance of a service with this system's env (after a test stopped one,
   * say): it becomes `services[name]` and is stopped with the system.
   */
  startService(name: ServiceName): Promise<RunningService>;
  /** A creator's publication on this system's chain: signed by account 0 unless told otherwise, served over http. */
  publish(content: string | Uint8Array, opts?: Partial<PublishContentInput>): Promise<PublishedContent>;
  stop(): Promise<void>;
}

/**
 * The whole system on real servers: its own nats-server, database, hardhat chain and
 * manifest server, and every service of the pipeline descriptor started in-process from their composition
 * roots with the same config loaders their mains use.
 */
export async function startSystem(extraEnv: Env = {}, opts: SystemOptions = {}): Promise<System> {
  const natsPasswords = opts.natsUsers ? createNatsPasswords() : null;
  const [nats, db, chain, manifests] = await Promise.all([
    startNatsServer(natsPasswords ? { configFile: NATS_CONFIG_FILE, env: natsPasswords } : {}),
    createTestDatabase({ migrationsDir: MIGRATIONS_DIR }),
    startChain(),
    startManifestServer(),
  ]);
  const registry = await deployRegistry(chain.rpcUrl, chain.accounts[0]!.privateKey);
  const statusPort = await findFreePort();
  const webhooksPort = await findFreePort();
  const env: Env = {
    NATS_URL: nats.url,
    DATABASE_URL: db.url,
    RPC_URL: chain.rpcUrl,
    IPFS_GATEWAYS: manifests.url,
    MANIFEST_ALLOW_HTTP: "true",
    ALLOWED_PRIVATE_HOSTS: `127.0.0.1,localhost`,
    STATUS_PORT: String(statusPort),
    STATUS_URL: `http://127.0.0.1:${statusPort}`,
    WEBHOOKS_PORT: String(webhooksPort),
    WEBHOOKS_HOST: "127.0.0.1",
    WEBHOOKS_URL: `http://127.0.0.1:${webhooksPort}`,
    WEBHOOK_SIGNING_SECRET: "whsec_" + Buffer.from("veriflow test signing secret, 32b").toString("base64"),
    WEBHOOK_SECRETS_KEY: Buffer.from("veriflow test webhook secrets k.").toString("base64"),
    WEBHOOK_ALLOWED_PRIVATE_HOSTS: "127.0.0.1",
    WEBHOOK_RETRY_SCHEDULE_MS: "200,400,800",
    WEBHOOK_POLL_INTERVAL_MS: "50",
    WEBHOOK_TIMEOUT_MS: "2000",
    GATEWAY_PORT: "0",
    GATEWAY_GRPC_PORT: "0",
    STATUS_GRPC_PORT: "0",
    GATEWAY_HOST: "127.0.0.1",
    STATUS_HOST: "127.0.0.1",
    OPS_PORT: "0",
    RETRY_BASE_MS: "50",
    RETRY_MAX_MS: "400",
    MANIFEST_TIMEOUT_MS: "2000",
    // Tests register or revoke, then verify at once, and expect the verdict to see it: chain-check
    // asks the block number for every read (the default reuses it 500 ms; that staleness is tested
    // in libs/adapters' block-pinned-reads).
    CHAIN_BLOCK_MAX_AGE_MS: "0",
    // Automine makes no block after a revocation: the watcher reads logs at once (no
    // confirmations), a few times a second, so a changed entry re-verifies within seconds.
    REGISTRY_WATCH_CONFIRMATIONS: "0",
    REGISTRY_WATCH_POLL_MS: "200",
    // Large uploads are read while they are stored (off by default), so the system tests take that path.
    UPLOADS_FOLLOW_MAX: "4",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    // Every test client is 127.0.0.1 without a key, polling every 25 ms: many clients, not one.
    // Limits that never bind, while the limiter still runs on every request (tests/e2e/rate-limits sets real ones).
    RATE_LIMITS: "key:100000000/100000000,ip:100000000/100000000",
    ...extraEnv,
  };
  const log = (name: string) => (env.LOG_LEVEL === "silent" ? createSilentLogger() : createLogger(name, env.LOG_LEVEL, opts.logs));
  const services = {} as Record<ServiceName, RunningService>;
  const started: RunningService[] = [];
  const startService = async (name: ServiceName) => {
    const service = await loadService(name);
    const serviceEnv = natsPasswords ? { ...env, ...natsUserEnv(name, natsPasswords) } : env;
    const running = await service.start(service.loadConfig(serviceEnv), log(name));
    started.push(running);
    return (services[name] = running);
  };
  try {
    // Every service of the pipeline descriptor, started in-process from its composition root
    // with the config loader its main uses; observers first, so they listen before work arrives.
    const [observers, rest] = partition(serviceNames, (name) => pipeline.observers.some((o) => o.service === name));
    for (const group of [observers, rest]) {
      await Promise.all(group.map(startService));
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    await Promise.allSettled([nats.stop(), db.drop(), chain.stop(), manifests.stop()]);
    throw err;
  }
  const { gateway, status } = services;
  return {
    gatewayUrl: `http://127.0.0.1:${gateway.port}`,
    gatewayGrpcAddress: `127.0.0.1:${gateway.grpcPort}`,
    statusGrpcAddress: `127.0.0.1:${status.grpcPort}`,
    statusUrl: env.STATUS_URL!,
    webhooksUrl: env.WEBHOOKS_URL!,
    nats,
    db,
    chain,
    registry,
    manifests,
    env,
    natsPasswords,
    services,
    startService,
    publish: (content, opts = {}) =>
      publishContent({
        chain,
        registry,
        manifests,
        content,
        via: "http",
        ...opts,
      }),
    async stop() {
      await Promise.allSettled(started.map((s) => s.stop()));
      await Promise.allSettled([nats.stop(), db.drop(), chain.stop(), manifests.stop()]);
    },
  };
}

/** A service's definition, from `services/<name>/src/service.ts` (its `service` export). */
async function loadService(name: ServiceName): Promise<ServiceDefinition> {
  const mod = (await import(`../../services/${name}/src/service.ts`)) as { service?: ServiceDefinition };
  if (mod.service?.name !== name) throw new Error(`services/${name}/src/service.ts does not export the service definition of "${name}"`);
  return mod.service;
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((i) => !test(i))];
}
