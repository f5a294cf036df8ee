import { errors } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { createSilentLogger } from "@veriflow/platform";
import { createQueueHealth } from "./queue-health.js";

// What nats.js throws when nothing answers a JetStream request (libs/nats classifies by class).
const noResponders = new errors.RequestError("no responders", { cause: new errors.NoRespondersError("$JS.API.STREAM.INFO.VERIFLOW") });
const wrapped = (cause: unknown) => new Error("the upload could not be stored", { cause });

describe("createQueueHealth", () => {
  it("is usable while connected, and not while disconnected", () => {
    let connected = true;
    const health = createQueueHealth({ isConnected: () => connected, disconnectedAt: () => null, probe: async () => true, log: createSilentLogger() });
    expect(health.usable()).toBe(true);
    connected = false;
    expect(health.usable()).toBe(false);
    health.close();
  });

  it("an unreachable-queue failure switches to the fallback until the probe answers; other errors don't", async () => {
    let answers = false;
    const health = createQueueHealth({ isConnected: () => true, disconnectedAt: () => null, probe: async () => answers, probeEveryMs: 10, log: createSilentLogger() });
    health.reportFailure(new Error("E_INVALID_REGISTRY_ADDRESS"));
    expect(health.usable()).toBe(true);
    health.reportFailure(wrapped(noResponders));
    expect(health.usable()).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(health.usable()).toBe(false);
    answers = true;
    await new Promise((r) => setTimeout(r, 50));
    expect(health.usable()).toBe(true);
    health.close();
  });

  describe("a dropped connection (decide)", () => {
    /** A connection that dropped `agoMs` ago and comes back after `backInMs` (never: undefined). */
    const dropped = (agoMs: number, backInMs?: number) => {
      let droppedAt: number | null = Date.now() - agoMs;
      if (backInMs !== undefined) setTimeout(() => (droppedAt = null), backInMs);
      return createQueueHealth({ isConnected: () => droppedAt === null, disconnectedAt: () => droppedAt, probe: async () => true, reconnectGraceMs: 400, log: createSilentLogger() });
    };

    it("waits for a reconnect within the grace, and the submission goes through the queue", async () => {
      const health = dropped(0, 100);
      expect(health.usable()).toBe(false);
      const started = Date.now();
      expect(await health.decide()).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      health.close();
    });

    it("takes the fallback once the connection has been down past the grace, without waiting", async () => {
      const health = dropped(1_000);
      const started = Date.now();
      expect(await health.decide()).toBe(false);
      expect(Date.now() - started).toBeLessThan(300); // not the 400 ms grace
      health.close();
    });

    it("takes the fallback when the grace runs out before the reconnect", async () => {
      const health = dropped(0);
      const started = Date.now();
      expect(await health.decide()).toBe(false);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      health.close();
    });

    it("does not wait while connected, and still refuses the queue while a failure is unresolved", async () => {
      const health = createQueueHealth({ isConnected: () => true, disconnectedAt: () => null, probe: async () => false, probeEveryMs: 10_000, log: createSilentLogger() });
      expect(await health.decide()).toBe(true);
      health.reportFailure(wrapped(noResponders));
      expect(await health.decide()).toBe(false);
      health.close();
    });
  });
});
