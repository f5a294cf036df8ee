import { createServer, connect as connectTcp, type Server, type Socket } from "node:net";

/**
 * A loopback TCP proxy in front of nats-server that can hold back the server's bytes to the
 * client after a number of them: a read that stalls mid-stream, or acks that stop coming, as
 * a broker that hangs or a network that drops would make it, without touching the client.
 * What it holds passes on, in order, once it resumes. For this library's tests only.
 */
export async function startStallingProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  const links = new Set<{ client: Socket; held: Buffer[] }>();
  let budget = Infinity;
  let hook: { marker: string; then: () => void } | null = null;

  const resume = () => {
    budget = Infinity;
    for (const link of links) for (const d of link.held.splice(0)) link.client.write(d);
  };
  const server: Server = createServer((client) => {
    const upstream = connectTcp(targetPort, "127.0.0.1");
    const link = { client, held: [] as Buffer[] };
    links.add(link);
    sockets.add(client).add(upstream);
    client.on("data", (d: Buffer) => {
      // Before passing it on: a stall set here holds the server's answer to it.
      if (hook !== null && d.toString("latin1").includes(hook.marker)) {
        const { then } = hook;
        hook = null;
        then();
      }
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      const pass = d.subarray(0, Math.max(0, Math.min(d.length, budget)));
      budget -= pass.length;
      if (pass.length > 0) client.write(pass);
      if (pass.length < d.length) link.held.push(d.subarray(pass.length));
    });
    const end = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `nats://127.0.0.1:${(server.address() as { port: number }).port}`,
    /** From now on, pass only this many more bytes from the server; hold the rest. */
    stallAfter(bytes: number) {
      budget = bytes;
    },
    /** Passes on what it held, and everything from now on. */
    resume,
    /** Calls `then` (once) when the client sends something containing `marker`, e.g. a subject. */
    whenClientSends(marker: string, then: () => void) {
      hook = { marker, then };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
