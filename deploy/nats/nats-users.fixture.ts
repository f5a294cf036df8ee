import { errors } from "@nats-io/transport-node";
import { connectNats, type NatsClients, type TopologyConfig } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { testTopology } from "../../libs/nats/src/topology.fixture.js";
import { NATS_CONFIG_FILE, createNatsPasswords, natsUserEnv, type NatsPasswords } from "../local/src/nats-users.js";

/**
 * A real nats-server (free loopback port, temp store) running the generated
 * deploy/nats/nats-server.conf with fresh passwords, and clients logged in as its users.
 * For the permission tests of this folder.
 */
export interface NatsWithUsers {
  server: NatsServerHandle;
  passwords: NatsPasswords;
  /** A connection as `user`, closed by `stop()`. */
  connectAs(user: string): Promise<NatsClients>;
  stop(): Promise<void>;
}

export async function startNatsWithUsers(): Promise<NatsWithUsers> {
  const passwords = createNatsPasswords();
  const server = await startNatsServer({ configFile: NATS_CONFIG_FILE, env: passwords });
  const open: NatsClients[] = [];
  return {
    server,
    passwords,
    async connectAs(user) {
      const { NATS_USER, NATS_PASSWORD } = natsUserEnv(user, passwords);
      const clients = await connectNats({
        url: server.url,
        auth: { kind: "password", user: NATS_USER, password: NATS_PASSWORD },
        name: `permissions-test-${user}`,
        log: createSilentLogger(),
        timeoutMs: 3000,
      });
      open.push(clients);
      return clients;
    },
    async stop() {
      await Promise.allSettled(open.map((c) => c.close()));
      await server.stop();
    },
  };
}

/** Small stores (JetStream reserves them) and an hour's age: libs/nats's test topology. */
export const topology: TopologyConfig = testTopology();

/** The server refused the publish (or the API request) for the user's permissions: nats.js's typed error, anywhere in the cause chain. */
export function isPermissionViolation(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof errors.PermissionViolationError) return true;
  }
  return false;
}

/** Resolves to the error `work` fails with; fails the test if it succeeds. */
export async function refusal(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => {
      throw new Error("expected the server to refuse this");
    },
    (err: unknown) => err,
  );
}
