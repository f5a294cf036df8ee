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
    const health = createQueueHealth({ isConnected: () => connected, probe: async () => true, log: createSilentLogger() });
    expect(health.usable()).toBe(true);
    connected = false;
    expect(health.usable()).toBe(false);
    health.close();
  });

  it("an unreachable-queue failure switches to the fallback until the probe answers; other errors don't", async () => {
    let answers = false;
    const health = createQueueHealth({ isConnected: () => true, probe: async () => answers, probeEveryMs: 10, log: createSilentLogger() });
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
});
