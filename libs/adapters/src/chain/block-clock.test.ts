import { describe, expect, it } from "vitest";
import { createBlockClock } from "./block-clock.js";

/** A node whose block number the test sets, answering when the test says. */
function fakeNode() {
  const node = {
    block: 7,
    asked: 0,
    pending: [] as { resolve(n: number): void; reject(e: unknown): void }[],
    ask: () => {
      node.asked++;
      return new Promise<number>((resolve, reject) => node.pending.push({ resolve, reject }));
    },
    answer: () => node.pending.splice(0).forEach((p) => p.resolve(node.block)),
    fail: () => node.pending.splice(0).forEach((p) => p.reject(new Error("down"))),
  };
  return node;
}

describe("createBlockClock", () => {
  it("asks nothing until a read needs the block, then once for every read that overlaps", async () => {
    const node = fakeNode();
    const clock = createBlockClock(node.ask, { maxAgeMs: 500, now: () => 0 });
    expect(node.asked).toBe(0);
    const reads = Array.from({ length: 50 }, () => clock.current());
    expect(node.asked).toBe(1);
    node.answer();
    expect(await Promise.all(reads)).toEqual(Array(50).fill(7));
  });

  it("reuses an answer until it is maxAgeMs old, counted from when it was asked", async () => {
    const node = fakeNode();
    let t = 1000;
    const clock = createBlockClock(node.ask, { maxAgeMs: 500, now: () => t });
    const first = clock.current();
    t += 100; // the answer takes 100 ms: its age starts at the question
    node.answer();
    expect(await first).toBe(7);
    node.block = 8; // a block is mined
    t = 1499;
    expect(await clock.current()).toBe(7);
    expect(node.asked).toBe(1);
    t = 1500;
    const next = clock.current();
    expect(node.asked).toBe(2);
    node.answer();
    expect(await next).toBe(8);
  });

  it("with maxAgeMs 0, asks for every read that does not overlap one in flight", async () => {
    const node = fakeNode();
    const clock = createBlockClock(node.ask, { maxAgeMs: 0, now: () => 0 });
    const a = [clock.current(), clock.current()];
    node.answer();
    await Promise.all(a);
    const b = clock.current();
    node.answer();
    await b;
    expect(node.asked).toBe(2);
  });

  it("does not remember a failure: every overlapping read gets it, the next read asks again", async () => {
    const node = fakeNode();
    const clock = createBlockClock(node.ask, { maxAgeMs: 500, now: () => 0 });
    const failed = [clock.current(), clock.current()].map((p) => p.catch((e: Error) => e.message));
    node.fail();
    expect(await Promise.all(failed)).toEqual(["down", "down"]);
    const retry = clock.current();
    expect(node.asked).toBe(2);
    node.answer();
    expect(await retry).toBe(7);
  });
});
