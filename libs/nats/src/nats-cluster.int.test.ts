import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { eventually, startNatsCluster, type NatsClusterHandle } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The ground the scale-out work stands on: a three-node JetStream cluster of real
// nats-server 2.9 processes on loopback, and an R3 stream that outlives its leader's node.
let cluster: NatsClusterHandle;

beforeAll(async () => {
  cluster = await startNatsCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe("a three-node nats-server cluster on loopback", () => {
  it("keeps every message of an R3 stream when the stream leader's node is killed, and elects another", async () => {
    const nc = await connect({ servers: cluster.url.split(","), reconnectTimeWait: 250, maxReconnectAttempts: -1 });
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc, { timeout: 5000 });
      await jsm.streams.add({ name: "R3TEST", subjects: ["r3.>"], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits });
      for (let i = 0; i < 50; i++) await js.publish(`r3.${i}`, `m${i}`);
      const leader = (await jsm.streams.info("R3TEST")).cluster?.leader;
      expect(leader).toMatch(/^n[123]$/);

      await cluster.node(leader!).kill();
      // A publish during the election may time out: the client tries again, as a service would.
      for (let i = 50; i < 100; i++) {
        const publish = () => js.publish(`r3.${i}`, `m${i}`, { msgID: `m${i}` }).then(() => true, () => false);
        await eventually(publish, `message ${i} stored`, 30_000, 250);
      }
      const info = await jsm.streams.info("R3TEST");
      expect(info.cluster?.leader).toBeDefined();
      expect(info.cluster?.leader).not.toBe(leader);
      expect(info.state.messages).toBe(100);

      // The node comes back on its store and catches up.
      await cluster.node(leader!).restart();
      await cluster.waitForJetStream();
      await eventually(async () => {
        const replicas = (await jsm.streams.info("R3TEST")).cluster?.replicas ?? [];
        return replicas.find((r) => r.name === leader)?.current === true;
      }, `node ${leader} current again`, 30_000, 250);
    } finally {
      await nc.close();
    }
  }, 120_000);
});
