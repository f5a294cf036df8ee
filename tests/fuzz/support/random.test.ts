import { describe, expect, it } from "vitest";
import { createRandom, loadFuzzSettings } from "./random.js";

const draws = (seed: number, label?: string) => {
  const r = label === undefined ? createRandom(seed) : createRandom(seed).fork(label);
  return [r.next(), r.int(1000), r.bytes(7).toString("hex"), r.pick(["a", "b", "c"])];
};

describe("createRandom", () => {
  it("replays the same draws for the same seed, other ones for another", () => {
    expect(draws(42)).toEqual(draws(42));
    expect(draws(42)).not.toEqual(draws(43));
  });

  it("gives each fork its own stream, whatever the parent drew before", () => {
    const parent = createRandom(42);
    parent.bytes(100);
    expect([parent.fork("rest").next()]).toEqual([createRandom(42).fork("rest").next()]);
    expect(draws(42, "rest")).not.toEqual(draws(42, "grpc"));
  });

  it("keeps its draws in range", () => {
    const r = createRandom(1);
    for (let i = 0; i < 1000; i++) {
      const n = r.between(-3, 3);
      expect(n >= -3 && n <= 3 && Number.isInteger(n)).toBe(true);
      expect(r.next()).toBeLessThan(1);
    }
  });
});

describe("loadFuzzSettings", () => {
  it("reads FUZZ_SEED and FUZZ_INPUTS, with a fresh seed and 1500 inputs by default", () => {
    expect(loadFuzzSettings({ FUZZ_SEED: "7", FUZZ_INPUTS: "10" })).toEqual({ seed: 7, inputs: 10 });
    const defaults = loadFuzzSettings({});
    expect(defaults.inputs).toBe(1500);
    expect(Number.isInteger(defaults.seed) && defaults.seed >= 0 && defaults.seed < 2 ** 32).toBe(true);
  });

  it("refuses what is not a seed or a count", () => {
    for (const env of [{ FUZZ_SEED: "-1" }, { FUZZ_SEED: "1.5" }, { FUZZ_SEED: String(2 ** 32) }, { FUZZ_INPUTS: "0" }, { FUZZ_INPUTS: "many" }]) {
      expect(() => loadFuzzSettings(env), JSON.stringify(env)).toThrow(/FUZZ_/);
    }
  });
});
