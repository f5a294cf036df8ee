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
import { replicaCounts, replicaPorts, type Replicas } from "./service-replicas.js";
import { runSetupCommand } from "./setup-topology.js";
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
  /**
   * Processes of every service (a number), or per service (1 where not named). Replica 0 takes
   * the ports chosen above, the others free ones. With more than one replica, or a NATS_URL
   * listing a cluster, `veriflow setup` makes the topology first and the services only check it.
   */
  replicas?: Replicas;
  /** How long every gateway replica may take to answer after the spawn (60 s; a box shared with other test runs may need more). */
  readyTimeoutMs?: number;
}

export interface Sample {
  file: string;
  contentHash: string;
  manifestUri: string;
  registry: string;
}

export interface LocalStack {
  /** Gateway replica 0's URL (the one a single-replica caller uses). */
  gatewayUrl: string;
  /** Every gateway replica's URL, by replica. */
  gatewayUrls: string[];
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
  /** Each service's processes, by replica (one element when one runs); restartService replaces elements in place. */
  services: Record<ServiceName, ServiceProcess[]>;
  /** Each replica's ops port (/metrics, /healthz, /readyz), by replica. */
  opsPorts: Record<ServiceName, number[]>;
  /**
   * Starts a replica again with the env it was first started with (after it was killed, say):
   * the new process becomes `services[name][replica]` and is stopped with the stack. A running
   * instance is stopped first. Resolves once the process is spawned, not once it is ready.
   */
  restartService(name: ServiceName, replica?: number): Promise<ServiceProcess>;
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
    const counts = replicaCounts(opts.replicas);
    const opsPorts = await opsPortsFor(counts, opts.freePorts ?? false);

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

    // A NATS_URL listing several servers is a cluster: its streams and buckets at R3 unless
    // STREAM_REPLICAS says otherwise (one node's loss then loses nothing).
    const clusterSize = natsUrl.split(",").length;
    const streamReplicas = env.STREAM_REPLICAS ?? (clusterSize >= 3 ? "3" : undefined);

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
      ...(streamReplicas === undefined ? {} : { STREAM_REPLICAS: streamReplicas }),
      ...freeGrpcPorts,
    };
    const natsUser = (name: string) => (natsPasswords ? natsUserEnv(name, natsPasswords) : {});
    // Replicas starting together would race to create the streams (the issue saw 10 s timeouts
    // and exits): with several, or on a cluster, the topology has one owner, as in a deployment.
    if (Object.values(counts).some((n) => n > 1) || clusterSize > 1) {
      await runSetupCommand({ ...serviceEnv, ...natsUser("admin") }, print);
      serviceEnv.NATS_TOPOLOGY = env.NATS_TOPOLOGY ?? "check";
    }
    // Each replica's env, kept for restartService. STATUS_URL and WEBHOOKS_URL (what the gateway
    // forwards reads and webhook routes to) stay on replica 0: a deployment puts a Service in
    // front of the replicas, and the local stack has no load balancer to stand in for one.
    const replicaEnvs = {} as Record<ServiceName, NodeJS.ProcessEnv[]>;
    for (const name of serviceNames) {
      replicaEnvs[name] = [];
      for (let i = 0; i < counts[name]; i++) {
        replicaEnvs[name].push({ ...serviceEnv, ...natsUser(name), ...(await replicaPorts(name, i)), OPS_PORT: String(opsPorts[name][i]) });
      }
    }
    const services = Object.fromEntries(serviceNames.map((name) => [name, [] as ServiceProcess[]])) as Record<ServiceName, ServiceProcess[]>;
    const spawnOne = (name: ServiceName, replica: number) =>
      (services[name][replica] = spawnService(name, replicaEnvs[name][replica]!, print, opts.nodeArgs, replica));
    for (const name of serviceNames) for (let i = 0; i < counts[name]; i++) spawnOne(name, i);
    // All at once (each finishes its work in hand, a stage waits out its open pulls), and the
    // instances running at stop time, which restartService may have replaced.
    cleanups.push(async () => void (await Promise.all(serviceNames.flatMap((name) => services[name].map(stopService)))));
    const gatewayUrls = replicaEnvs.gateway.map((e) => `http://127.0.0.1:${e.GATEWAY_PORT}`);
    const gatewayUrl = gatewayUrls[0]!;
    const readyBy = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (const url of gatewayUrls) await waitUntilReady(`${url}${JOBS_PATH}/stats`, services, env.API_KEYS?.split(",")[0], readyBy - Date.now());
    const stackFile = await writeLocalStackFile(dataDir, { gatewayUrl, rpcUrl, chainId, registry, manifestServerUrl: manifests.url });
    cleanups.push(() => removeLocalStackFile(dataDir));
    return {
      gatewayUrl,
      gatewayUrls,
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
      async restartService(name, replica = 0) {
        const running = services[name][replica];
        if (!running) throw new Error(`${name} has no replica ${replica} (${services[name].length} run)`);
        await stopService(running);
        return spawnOne(name, replica);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Every replica's ops port: the conventional one for replica 0 (unless `free`), free ones past it. */
async function opsPortsFor(counts: Record<ServiceName, number>, free: boolean): Promise<Record<ServiceName, number[]>> {
  const ports = {} as Record<ServiceName, number[]>;
  for (const name of serviceNames) {
    ports[name] = [];
    for (let i = 0; i < counts[name]; i++) ports[name].push(i === 0 && !free ? OPS_PORTS[name] : await findFreePort());
  }
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

async function waitUntilReady(url: string, services: Record<ServiceName, ServiceProcess[]>, apiKey?: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = Object.values(services).flat().find((s) => s.child.exitCode !== null);
    if (exited) throw new Error(`${exited.name}${exited.replica ? `#${exited.replica}` : ""} exited with code ${exited.child.exitCode} during start-up (see its log above)`);
    const ok = await fetch(url, { headers: apiKey ? { "x-api-key": apiKey } : {} }).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the gateway did not answer ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
