import { errors } from "@nats-io/transport-node";
import { createSilentLogger } from "@veriflow/platform";
import { describe, expect, it } from "vitest";
import { startHold } from "./hold.js";

const log = createSilentLogger();

describe("a submission's hold", () => {
  it("retries a step while NATS does not answer, within one budget, giving each attempt a timeout", async () => {
    const hold = startHold({ budgetMs: 5000 }, log);
    const timeouts: (number | undefined)[] = [];
    const result = await hold.run("publish", async ({ timeoutMs }) => {
      timeouts.push(timeoutMs);
      if (timeouts.length < 3) throw new errors.TimeoutError();
      return "stored";
    });
    expect(result).toBe("stored");
    expect(timeouts).toHaveLength(3);
    // A quarter of the budget each, so an unanswered attempt leaves room for the next.
    expect(timeouts[0]).toBe(1250);
    expect(hold.heldMs()).toBeGreaterThan(0);
  });

  it("never retries another error (a refused publish, a full store)", async () => {
    const hold = startHold({ budgetMs: 5000 }, log);
    let calls = 0;
    const refused = new Error("wrong last sequence");
    await expect(
      hold.run("publish", () => {
        calls++;
        return Promise.reject(refused);
      }),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect(hold.heldMs()).toBe(0);
  });

  it("gives up with the last error once the budget, shared by every step, is spent", async () => {
    const hold = startHold({ budgetMs: 600 }, log);
    const started = Date.now();
    await hold.run("upload", async () => "ok");
    await expect(hold.run("publish", () => Promise.reject(new errors.NoRespondersError("s")))).rejects.toBeInstanceOf(errors.NoRespondersError);
    expect(Date.now() - started).toBeLessThan(600 + 500);
  });

  it("runs each step once when holding is off (GATEWAY_HOLD_MS=0)", async () => {
    const hold = startHold({ budgetMs: 0 }, log);
    let calls = 0;
    await expect(hold.run("publish", () => (calls++, Promise.reject(new errors.TimeoutError())))).rejects.toBeInstanceOf(errors.TimeoutError);
    expect(calls).toBe(1);
  });
});
