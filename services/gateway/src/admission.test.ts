import type { ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { STREAM_NAME, pipeline, stageDurable } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { createAdmission } from "./admission.js";

/**
 * JetStream's answers as admission reads them (stream, uploads bucket, each pipeline consumer),
 * from a backlog the test sets: `interactive` messages waiting at the first stage. Each read takes
 * `readMs` and is counted.
 */
function fakeQueue() {
  const state = { interactive: 0, readMs: 0, reads: 0 };
  const first = stageDurable(pipeline.stages[0].service, "interactive");
  const later = () => new Promise((r) => setTimeout(r, state.readMs));
  const jsm = {
    streams: {
      info: async (name: string) => {
        if (name === STREAM_NAME) state.reads++;
        await later();
        return { state: { first_seq: 1, last_seq: 10, messages: 10, bytes: 10_000 }, config: { max_bytes: 1024 ** 3 } };
      },
    },
    consumers: {
      info: async (_stream: string, durable: string) => {
        await later();
        const pending = durable === first ? state.interactive : 0;
        return { num_pending: pending, num_ack_pending: 0, ack_floor: { stream_seq: 10 - pending, consumer_seq: 0 } } as unknown as ConsumerInfo;
      },
    },
  } as unknown as JetStreamManager;
  return { jsm, state };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("createAdmission", () => {
  it("refuses past the backlog, and never on a reading older than refreshMs: a drained backlog is read again first", async () => {
    const { jsm, state } = fakeQueue();
    const admission = createAdmission({ jsm, maxBacklog: 3, refreshMs: 100, log: createSilentLogger() });
    state.interactive = 3;
    await expect(admission.check(undefined, "interactive")).rejects.toMatchObject({ code: "E_QUEUE_BACKLOG" });
    // The backlog drains while no request comes: the last reading still says 3.
    state.interactive = 0;
    await sleep(150);
    await expect(admission.check(undefined, "interactive")).resolves.toBeUndefined();
    // Filled again: the next request is judged on the last reading (0) while the queue is read again,
    // and the one after it on that reading.
    state.interactive = 5;
    await sleep(150);
    await expect(admission.check(undefined, "interactive")).resolves.toBeUndefined();
    await sleep(20);
    await expect(admission.check(undefined, "interactive")).rejects.toMatchObject({ code: "E_QUEUE_BACKLOG", message: expect.stringContaining("holds 5") });
  });

  it("accepts on the last reading without waiting for the next one (read in the background)", async () => {
    const { jsm, state } = fakeQueue();
    const admission = createAdmission({ jsm, maxBacklog: 3, refreshMs: 100, log: createSilentLogger() });
    await admission.check(undefined, "interactive");
    state.readMs = 400;
    await sleep(150);
    const started = Date.now();
    await admission.check(undefined, "interactive");
    expect(Date.now() - started).toBeLessThan(300); // not the 400 ms read
    expect(state.reads).toBe(2); // and the next reading is under way
  });

  it("counts the jobs this replica accepted since the reading", async () => {
    const { jsm, state } = fakeQueue();
    const admission = createAdmission({ jsm, maxBacklog: 3, refreshMs: 10_000, log: createSilentLogger() });
    state.interactive = 1;
    await admission.check(undefined, "interactive");
    admission.accepted("interactive");
    await admission.check(undefined, "interactive");
    admission.accepted("interactive");
    await expect(admission.check(undefined, "interactive")).rejects.toMatchObject({ code: "E_QUEUE_BACKLOG", message: expect.stringContaining("holds 3") });
    await expect(admission.check(undefined, "bulk")).resolves.toBeUndefined(); // each class on its own
  });
});
