import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STREAM_NAME } from "@veriflow/events";
import { createSilentLogger, type Logger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { connectNats, type NatsClients } from "./nats.js";
import { ensureStreams } from "./topology.js";
import { testTopology } from "./topology.fixture.js";
import { whileUnavailable } from "./while-unavailable.js";

let server: NatsServerHandle;
let nats: NatsClients;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "while-unavailable-test", log: createSilentLogger(), timeoutMs: 500 });
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

const warnings = () => {
  const seen: string[] = [];
  const log: Pick<Logger, "warn"> = { warn: (_o: unknown, msg?: string) => void seen.push(String(msg)) };
  return { seen, log };
};

describe("a set-up step while NATS does not answer", () => {
  it("waits for nats-server to come back, then creates the streams (a service started with a down or busy server)", async () => {
    await server.kill();
    const { seen, log } = warnings();
    const ensured = ensureStreams(nats.jsm, testTopology(), { log, waitMs: 30_000 });
    await sleep(1500);
    await server.restart();
    await ensured;
    expect((await nats.jsm.streams.info(STREAM_NAME)).config.name).toBe(STREAM_NAME);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]).toContain("the events, dead-letter and positions streams");
  });

  it("throws any other error at once, without retrying", async () => {
    let calls = 0;
    const refused = new Error("stream config refused");
    await expect(whileUnavailable("x", async () => { calls++; throw refused; })).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it("gives up with the last error once its wait is over", async () => {
    await server.kill();
    try {
      const started = Date.now();
      await expect(whileUnavailable("account info", () => nats.jsm.getAccountInfo(), { waitMs: 1500 })).rejects.toBeTruthy();
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await server.restart();
    }
  });
});
