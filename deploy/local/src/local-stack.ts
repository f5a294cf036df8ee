import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Env } from "@veriflow/platform";
import {
  deployRegistry,
  findFreePort,
  publishContent,
  startChain,
  startEmbeddedPostgres,
  startManifestServer,
  startNatsServer,
  type ChainHandle,
  type EmbeddedPostgresHandle,
  type ManifestServer,
  type NatsServerHandle,
} from "@veriflow/testing";
import { JOBS_PATH } from "@veriflow/events";
import { removeLocalStackFile, writeLocalStackFile } from "./local-stack-file.js";
import { isPortFree, preferPort } from "./ports.js";
import { opsPortOf, serviceNames, type ServiceName } from "@veriflow/events";
import { spawnService, stopService, type ServiceProcess } from "./service-processes.js";
import { NATS_CONFIG_FILE, NATS_PASSWORDS_FILE, loadNatsPasswords, natsUserEnv, type NatsPasswords } from "./nats-users.js";

export interface LocalStackOptions {
  /** Where NATS, PostgreSQL and the sample keep their files. */
  dataDir: string;
  /** The caller's environment: anything set (NATS_URL, DATABASE_URL, RPC_URL, ports…) wins. */
  env: Env;
  print: (line: string) => void;
  /** A throwaway PostgreSQL (benchmarks): no fsync, its directory deleted on stop. */
  ephemeralPostgres?: boolean;
  /**
   * Every port (servers, service HTTP, gRPC and ops) on a free one instead of the conventional
   * ones, unless the env sets it: a benchmark then runs beside `npm start` without a clash.
   */
  freePorts?: boolean;
  /** PostgreSQL with pg_stat_statements loaded (benchmarks count statements per verification). */
  postgresStatementStats?: boolean;
  /** Node flags for every service process (the bench's `--cpu-prof`). */
  nodeArgs?: string[];
}

export interface Sample {
  file: string;
  contentHash: string;
  manifestUri: string;
  registry: string;
}

export interface LocalStack {
  gatewayUrl: string;
  statusUrl: string;
  natsUrl: string;
  /** nats-server's HTTP monitoring (/varz, /jsz) when this stack started it; null when NATS_URL was given. */
  natsMonitorUrl: string | null;
  /** The NATS users' passwords (<dataDir>/nats-passwords.json) when this stack started nats-server; null when NATS_URL was given. */
  natsPasswordsFile: string | null;
  databaseUrl: string;
  rpcUrl: string;
  /** The chain id and registry of the dev chain this stack started (null when RPC_URL was given). */
  chainId: number | null;
  registry: string | null;
  /** The dev manifest server (also the IPFS gateway the services use). */
  manifestServerUrl: string;
  /** The in-process handles, for callers that publish their own contents (null when RPC_URL was given). */
  chain: ChainHandle | null;
  manifests: ManifestServer;
  /** <dataDir>/local-stack.json, written once ready and removed on stop (how the CLI finds the stack). */
  stackFile: string;
  sample: Sample | null;
  services: Record<ServiceName, ServiceProcess>;
  opsPorts: Record<ServiceName, number>;
  /**
   * Starts a service again with the env it was first started with (after it was killed, say):
   * the new process becomes `services[name]` and is stopped with the stack. A running instance
   * is stopped first. Resolves once the process is spawned, not once it is ready.
   */
  restartService(name: ServiceName): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** Each service's conventional ops port, from the pipeline descriptor. */
const OPS_PORTS = Object.fromEntries(serviceNames.map((name) => [name, opsPortOf(name)])) as Record<ServiceName, number>;

/**
 * The whole system on one machine. What is not configured is started here: nats-server
 * (from PATH) with JetStream in <dataDir>/nats, embedded PostgreSQL in <dataDir>/postgres,
 * a hardhat chain with the registry deployed, and a manifest server holding a sample
 * content registered on that chain. Every service of the pipeline descriptor runs as processes from their
 * build output, configured only by environment, exactly as a deployment runs them.
 */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const { env, print } = opts;
  const dataDir = resolve(opts.dataDir);
  const cleanups: (() => Promise<void>)[] = [];
  // Once only: a second call (a signal during stop) must not run the cleanups again.
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const c of cleanups.reverse()) await c().catch(() => {});
    })());
  const serverPort = (conventional: number) => (opts.freePorts ? findFreePort() : preferPort(conventional));
  const httpPort = async (set: string | undefined, conventional: number) => (set ? Number(set) : opts.freePorts ? findFreePort() : conventional);
  try {
    const gatewayPort = await httpPort(env.GATEWAY_PORT, 3001);
    const statusPort = await httpPort(env.STATUS_PORT, 3002);
    const webhooksPort = await httpPort(env.WEBHOOKS_PORT, 3003);
    for (const [what, port] of [["gateway", gatewayPort], ["status", statusPort], ["webhooks", webhooksPort]] as const) {
      if (!(await isPortFree(port))) throw new Error(`port ${port} (${what}) is in use: stop what holds it, or set ${what.toUpperCase()}_PORT`);
    }
    const freeGrpcPorts: NodeJS.ProcessEnv = opts.freePorts
      ? { GATEWAY_GRPC_PORT: env.GATEWAY_GRPC_PORT ?? String(await findFreePort()), STATUS_GRPC_PORT: env.STATUS_GRPC_PORT ?? String(await findFreePort()) }
      : {};
    const opsPorts = opts.freePorts ? await findFreeOpsPorts() : OPS_PORTS;

    let natsUrl = env.NATS_URL;
    let natsMonitorUrl: string | null = null;
    // A nats-server started here runs the deployments' permissions, each service as its own user.
    let natsPasswords: NatsPasswords | null = null;
    if (!natsUrl) {
      await mkdir(join(dataDir, "nats"), { recursive: true });
      natsPasswords = await loadNatsPasswords(dataDir);
      const nats: NatsServerHandle = await startNatsServer({
        port: await serverPort(4222),
        // Its monitoring endpoints (loopback only): what an operator reads first, and the bench's message counts.
        monitorPort: await serverPort(8222),
        storeDir: join(dataDir, "nats"),
        configFile: NATS_CONFIG_FILE,
        env: natsPasswords,
      });
      cleanups.push(() => nats.stop({ keepStore: true }));
      natsUrl = nats.url;
      natsMonitorUrl = nats.monitorUrl;
      print(`nats-server  started on ${natsUrl} (JetStream in ${join(dataDir, "nats")}; a user per service, passwords in ${join(dataDir, NATS_PASSWORDS_FILE)}; monitoring on ${natsMonitorUrl})`);
    }

    let databaseUrl = env.DATABASE_URL;
    if (!databaseUrl) {
      const pg: EmbeddedPostgresHandle = await startEmbeddedPostgres({
        dataDir: join(dataDir, "postgres"),
        port: await serverPort(5433),
        ephemeral: opts.ephemeralPostgres,
        statementStats: opts.postgresStatementStats,
      });
      cleanups.push(() => pg.stop());
      databaseUrl = pg.url;
      print(`postgres     embedded on port ${pg.port} (data in ${join(dataDir, "postgres")})`);
    }

    const manifests: ManifestServer = await startManifestServer({ port: await serverPort(8088) });
    cleanups.push(() => manifests.stop());

    let rpcUrl = env.RPC_URL;
    let sample: Sample | null = null;
    let chainId: number | null = null;
    let registry: string | null = null;
    let chain: ChainHandle | null = null;
    if (!rpcUrl) {
      const devChain = await startChain({ port: await serverPort(8545) });
      cleanups.push(() => devChain.stop());
      chain = devChain;
      rpcUrl = chain.rpcUrl;
      chainId = chain.chainId;
      registry = await deployRegistry(chain.rpcUrl, chain.accounts[0]!.privateKey);
      print(`chain        hardhat on ${rpcUrl} (chain id ${chain.chainId}), ContentRegistry at ${registry}`);
      sample = await publishSample(dataDir, chain, registry, manifests);
    }

    const serviceEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...env,
      NATS_URL: natsUrl,
      DATABASE_URL: databaseUrl,
      RPC_URL: rpcUrl,
      IPFS_GATEWAYS: env.IPFS_GATEWAYS ?? manifests.url,
      // Local development: the manifest server is on loopback and speaks http.
      MANIFEST_ALLOW_HTTP: env.MANIFEST_ALLOW_HTTP ?? "true",
      ALLOWED_PRIVATE_HOSTS: env.ALLOWED_PRIVATE_HOSTS ?? "127.0.0.1,localhost",
      // Local development listens on this machine only (set a *_HOST to 0.0.0.0 to open one).
      GATEWAY_HOST: env.GATEWAY_HOST ?? "127.0.0.1",
      STATUS_HOST: env.STATUS_HOST ?? "127.0.0.1",
      WEBHOOKS_HOST: env.WEBHOOKS_HOST ?? "127.0.0.1",
      OPS_HOST: env.OPS_HOST ?? "127.0.0.1",
      GATEWAY_PORT: String(gatewayPort),
      STATUS_PORT: String(statusPort),
      STATUS_URL: env.STATUS_URL ?? `http://127.0.0.1:${statusPort}`,
      WEBHOOKS_PORT: String(webhooksPort),
      WEBHOOKS_URL: env.WEBHOOKS_URL ?? `http://127.0.0.1:${webhooksPort}`,
      WEBHOOK_SIGNING_SECRET: env.WEBHOOK_SIGNING_SECRET ?? (await loadKeptSecret(dataDir, "webhook-signing-secret", () => "whsec_" + randomBytes(32).toString("base64"))),
      WEBHOOK_SECRETS_KEY: env.WEBHOOK_SECRETS_KEY ?? (await loadKeptSecret(dataDir, "webhook-secrets-key", () => randomBytes(32).toString("base64"))),
      // Local development: callbacks to receivers on this machine are allowed.
      WEBHOOK_ALLOWED_PRIVATE_HOSTS: env.WEBHOOK_ALLOWED_PRIVATE_HOSTS ?? "127.0.0.1,localhost",
      LOG_LEVEL: env.LOG_LEVEL ?? "info",
      ...freeGrpcPorts,
    };
    const services = {} as Record<ServiceName, ServiceProcess>;
    const natsUser = (name: ServiceName) => (natsPasswords ? natsUserEnv(name, natsPasswords) : {});
    const spawnOne = (name: ServiceName) => (services[name] = spawnService(name, { ...serviceEnv, ...natsUser(name), OPS_PORT: String(opsPorts[name]) }, print, opts.nodeArgs));
    for (const name of serviceNames) spawnOne(name);
    // All at once (each finishes its work in hand, a stage waits out its open pulls), and the
    // instances running at stop time, which restartService may have replaced.
    cleanups.push(async () => void (await Promise.all(serviceNames.map((name) => stopService(services[name])))));
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    await waitUntilReady(`${gatewayUrl}${JOBS_PATH}/stats`, services, env.API_KEYS?.split(",")[0]);
    const stackFile = await writeLocalStackFile(dataDir, { gatewayUrl, rpcUrl, chainId, registry, manifestServerUrl: manifests.url });
    cleanups.push(() => removeLocalStackFile(dataDir));
    return {
      gatewayUrl,
      statusUrl: serviceEnv.STATUS_URL!,
      natsUrl,
      natsMonitorUrl,
      natsPasswordsFile: natsPasswords ? join(dataDir, NATS_PASSWORDS_FILE) : null,
      databaseUrl,
      rpcUrl,
      chainId,
      registry,
      manifestServerUrl: manifests.url,
      chain,
      manifests,
      stackFile,
      sample,
      services,
      opsPorts,
      async restartService(name) {
        await stopService(services[name]);
        return spawnOne(name);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function findFreeOpsPorts(): Promise<Record<ServiceName, number>> {
  const ports = {} as Record<ServiceName, number>;
  for (const name of serviceNames) ports[name] = await findFreePort();
  return ports;
}

/**
 * A secret made on the first start and kept in <dataDir>/<file> (mode 600), so what it signs
 * or seals stays verifiable and readable across restarts: tenant default's callback signing
 * secret (receivers keep verifying) and the key sealing webhook secrets in the database.
 */
async function loadKeptSecret(dataDir: string, file: string, make: () => string): Promise<string> {
  const path = join(dataDir, file);
  const existing = await readFile(path, "utf8").then((s) => s.trim(), () => "");
  if (existing) return existing;
  const secret = make();
  await mkdir(dataDir, { recursive: true });
  await writeFile(path, secret + "\n", { mode: 0o600 });
  return secret;
}

/** A sample a new user can verify at once: a file, its signed manifest on "IPFS", registered on chain. */
async function publishSample(dataDir: string, chain: ChainHandle, registry: string, manifests: ManifestServer): Promise<Sample> {
  const content = "Hello from veriflow: this file is registered on the local chain.\n";
  const dir = join(dataDir, "sample");
  await mkdir(dir, { recursive: true });
  const file = join(dir, "hello.txt");
  await writeFile(file, content);
  const published = await publishContent({
    chain,
    registry,
    manifests,
    content,
    via: "ipfs",
  });
  return { file, contentHash: published.contentHash, manifestUri: published.manifestUri, registry };
}

async function waitUntilReady(url: string, services: Record<ServiceName, ServiceProcess>, apiKey?: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = Object.values(services).find((s) => s.child.exitCode !== null);
    if (exited) throw new Error(`${exited.name} exited with code ${exited.child.exitCode} during start-up (see its log above)`);
    const ok = await fetch(url, { headers: apiKey ? { "x-api-key": apiKey } : {} }).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the gateway did not answer ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
