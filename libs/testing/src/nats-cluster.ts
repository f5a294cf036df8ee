import { setTimeout as sleep } from "node:timers/promises";
import { findFreePort } from "./free-port.js";
import { startNatsServer, type NatsServerHandle, type StartNatsOptions } from "./nats-server.js";

export interface NatsClusterHandle {
  /** The nodes, in start order; node `i` is server `n<i+1>`. */
  nodes: NatsServerHandle[];
  /** Every node's client URL, comma-separated: what a service's NATS_URL takes. */
  url: string;
  /** The node whose server name is `name` (a stream's leader, from its cluster info). */
  node(name: string): NatsServerHandle;
  /** Waits until the JetStream meta group has a leader and every node sees all its peers. */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export type StartNatsClusterOptions = Omit<StartNatsOptions, "port" | "storeDir" | "monitorPort" | "cluster"> & { nodes?: number };

/**
 * A JetStream cluster of real nats-servers on 127.0.0.1 (three by default): each node on its
 * own free client, route and monitoring ports and temp store, routes to all the others. Returns
 * once the meta group has elected a leader, so streams at R3 can be created at once. A node
 * killed (`nodes[i].kill()`) comes back with `restart()` on the same ports and store.
 */
export async function startNatsCluster(opts: StartNatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const count = opts.nodes ?? 3;
  const { nodes: _count, ...serverOpts } = opts;
  // Every port up front and distinct: client, route and monitoring port of each node.
  const ports = await distinctFreePorts(3 * count);
  const routePorts = ports.slice(count, 2 * count);
  const name = `veriflow-test-${process.pid}`;
  const nodes = await Promise.all(
    routePorts.map((port, i) =>
      startNatsServer({
        ...serverOpts,
        port: ports[i]!,
        monitorPort: ports[2 * count + i]!,
        cluster: { name, serverName: serverNameOf(i), port, routes: routePorts.filter((p) => p !== port) },
      }),
    ),
  );
  const handle: NatsClusterHandle = {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    node(serverName) {
      const i = nodes.findIndex((_, j) => serverNameOf(j) === serverName);
      if (i < 0) throw new Error(`no node named ${serverName} in this cluster`);
      return nodes[i]!;
    },
    async waitForJetStream(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const views = await Promise.all(nodes.filter((n) => n.pid !== undefined).map((n) => metaClusterOf(n)));
        if (views.every((v) => v !== null && v.leader !== undefined && v.size === count)) return;
        if (Date.now() > deadline) throw new Error(`the JetStream meta group has no leader after ${timeoutMs} ms: ${JSON.stringify(views)}`);
        await sleep(200);
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  try {
    await handle.waitForJetStream();
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}

const serverNameOf = (i: number) => `n${i + 1}`;

/** What a node's /jsz says of the meta group: its leader and size; null while it does not answer. */
async function metaClusterOf(node: NatsServerHandle): Promise<{ leader?: string; size: number } | null> {
  try {
    const res = await fetch(`${node.monitorUrl}/jsz`, { signal: AbortSignal.timeout(2000) });
    const jsz = (await res.json()) as { meta_cluster?: { leader?: string; cluster_size?: number } };
    return { leader: jsz.meta_cluster?.leader || undefined, size: jsz.meta_cluster?.cluster_size ?? 0 };
  } catch {
    return null;
  }
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await findFreePort());
  return [...ports];
}
