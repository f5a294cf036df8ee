import { join } from "node:path";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsCluster, type NatsClusterHandle } from "@veriflow/testing";
import { startLocalStack, type LocalStack } from "../../../deploy/local/src/local-stack.js";
import { createDatabase, systemEnv, type Infra, type ServiceSettings } from "../../chaos/support/infra.js";

/**
 * The system as an operator scales it out, on loopback: a three-node nats-server cluster, the
 * streams and buckets at R3 made once by `veriflow setup` (the local stack runs it when it
 * starts replicas), and `replicas` processes of every service, which only check the topology.
 * The harness holds a NATS connection of its own to every node (it rides out a node's loss).
 */
export interface ClusterStack {
  cluster: NatsClusterHandle;
  local: LocalStack;
  client: NatsClients;
  stop(): Promise<void>;
}

/**
 * JetStream reserves every stream's max_bytes on each node when it creates it, and the three
 * nodes share one disk here: bounds that hold the run's events and uploads many times over.
 */
const STORE_BOUNDS = {
  STREAM_MAX_BYTES: String(256 * 1024 ** 2),
  DEAD_LETTER_MAX_BYTES: String(16 * 1024 ** 2),
  UPLOADS_MAX_BYTES: String(512 * 1024 ** 2),
  GATEWAY_MAX_UPLOAD_BYTES: String(64 * 1024 ** 2),
  IDEMPOTENCY_MAX_BYTES: String(16 * 1024 ** 2),
  RATE_LIMITS_MAX_BYTES: String(4 * 1024 ** 2),
};

export async function startClusterStack(
  infra: Infra,
  opts: { replicas: number; settings: ServiceSettings; print: (line: string) => void; readyTimeoutMs: number },
): Promise<ClusterStack> {
  const cluster = await startNatsCluster();
  const stops: (() => Promise<void>)[] = [() => cluster.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const databaseUrl = await createDatabase(infra.pg.url, "scale");
    const local = await startLocalStack({
      dataDir: join(infra.workDir, "scale"),
      env: {
        ...systemEnv(infra, { natsUrl: cluster.url, databaseUrl, settings: opts.settings }),
        ...STORE_BOUNDS,
        STREAM_REPLICAS: "3",
        // The manifest server runs in the harness's process, beside the load and the recorder: on
        // a box shared with other suites (load average 20+ on 2 cores) it has gone 25 s without
        // answering, and manifest gave up valid jobs after its default 5 attempts (E_IPFS_UNAVAILABLE).
        // A host outage is not this test's fault; 10 attempts ride such a stall out.
        MANIFEST_MAX_ATTEMPTS: "10",
      },
      print: opts.print,
      freePorts: true,
      replicas: opts.replicas,
      readyTimeoutMs: opts.readyTimeoutMs,
    });
    stops.push(() => local.stop());
    const client = await connectNats({ url: cluster.url, name: "veriflow-scale", log: createSilentLogger() });
    stops.push(() => client.close());
    return { cluster, local, client, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
