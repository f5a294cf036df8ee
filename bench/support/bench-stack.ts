import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalStack, type LocalStack } from "../../deploy/local/src/local-stack.js";
import type { Replicas } from "../../deploy/local/src/service-replicas.js";
import { registerContents, type Content } from "./contents.js";

/** What the runs need of the stack the bench started. */
export interface BenchStack {
  /** This run's temp directory (JetStream store, PostgreSQL, the large file); removed on stop. */
  dataDir: string;
  gatewayUrl: string;
  /** The status service's REST base, and its PostgreSQL (the data-scale step loads jobs there). */
  statusUrl: string;
  databaseUrl: string;
  registry: string;
  /** The dev chain's RPC URL (its port is how the orphan check tells this run's hardhat apart). */
  rpcUrl: string;
  contents: Content[];
  /** Each service's processes, by replica. */
  services: LocalStack["services"];
  restartService: LocalStack["restartService"];
  /** The stack's nats-server and its users' passwords file (connect as admin to read the stream). */
  natsUrl: string;
  natsPasswordsFile: string | null;
  /** nats-server's monitoring endpoint (/varz, /connz) and each service's ops URL (replica 0's /metrics): the cost counters. */
  natsMonitorUrl: string | null;
  opsUrls: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The local stack `npm start` runs, made for measuring: a fresh temp directory, a throwaway
 * PostgreSQL, free ports everywhere (it can run beside `npm start`), services at LOG_LEVEL=warn
 * and listening on loopback only; then `contentCount` contents registered on its chain.
 */
export async function startBenchStack(
  contentCount: number,
  print: (line: string) => void,
  opts: { nodeArgs?: string[]; replicas?: Replicas; env?: Record<string, string>; contentBytes?: { min: number; max: number } } = {},
): Promise<BenchStack> {
  const dataDir = await mkdtemp(join(tmpdir(), "veriflow-bench-"));
  // Run as root, embedded Postgres runs as the postgres user: it must reach its directory.
  await chmod(dataDir, 0o755);
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      dataDir,
      env: {
        GATEWAY_HOST: "127.0.0.1",
        STATUS_HOST: "127.0.0.1",
        WEBHOOKS_HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        // The load generator is one anonymous address driving the whole box: limits that never
        // bind, so the figures include the limiter's cost but not its refusals.
        RATE_LIMITS: "ip:100000000/100000000",
        ...opts.env,
      },
      print,
      ephemeralPostgres: true,
      postgresStatementStats: true,
      nodeArgs: opts.nodeArgs,
      freePorts: true,
      replicas: opts.replicas,
    });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const stop = async () => {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    // The env given above sets no RPC_URL, so the stack started a chain and deployed the registry.
    const { chain, registry } = stack;
    if (!chain || !registry) throw new Error("the local stack started no chain");
    const contents = await registerContents(chain, registry, stack.manifests, contentCount, opts.contentBytes);
    const opsUrls = Object.fromEntries(Object.entries(stack.opsPorts).map(([name, [port]]) => [name, `http://127.0.0.1:${port}`]));
    return {
      dataDir,
      gatewayUrl: stack.gatewayUrl,
      statusUrl: stack.statusUrl,
      registry,
      rpcUrl: chain.rpcUrl,
      contents,
      services: stack.services,
      restartService: (name, replica) => stack.restartService(name, replica),
      natsUrl: stack.natsUrl,
      natsPasswordsFile: stack.natsPasswordsFile,
      natsMonitorUrl: stack.natsMonitorUrl,
      databaseUrl: stack.databaseUrl,
      opsUrls,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
