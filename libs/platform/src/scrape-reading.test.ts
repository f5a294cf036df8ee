import { describe, expect, it } from "vitest";
import { createScrapeReading, createScrapedGauge } from "./scrape-reading.js";

describe("createScrapeReading", () => {
  it("reuses a reading within its ttl and reads again after it", async () => {
    let clock = 0;
    let reads = 0;
    const r = createScrapeReading(() => Promise.resolve(++reads), { ttlMs: 100, now: () => clock });
    expect(await r.get()).toBe(1);
    clock = 99;
    expect(await r.get()).toBe(1);
    clock = 100;
    expect(await r.get()).toBe(2);
  });

  it("shares one read between concurrent scrapes", async () => {
    let reads = 0;
    const r = createScrapeReading(async () => {
      reads += 1;
      await new Promise((res) => setTimeout(res, 10));
      return reads;
    });
    expect(await Promise.all([r.get(), r.get(), r.get()])).toEqual([1, 1, 1]);
    expect(reads).toBe(1);
  });

  it("answers undefined past its timeout, and the late answer serves the next scrape", async () => {
    let release: (v: string) => void = () => {};
    const r = createScrapeReading(() => new Promise<string>((res) => (release = res)), { timeoutMs: 20 });
    const started = Date.now();
    expect(await r.get()).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1000);
    release("late");
    await new Promise((res) => setImmediate(res));
    expect(await r.get()).toBe("late");
  });

  it("answers undefined for a failed read and reports it, then reads again", async () => {
    const errors: unknown[] = [];
    let fail = true;
    const r = createScrapeReading(() => (fail ? Promise.reject(new Error("down")) : Promise.resolve("up")), { onError: (e) => errors.push(e) });
    expect(await r.get()).toBeUndefined();
    expect(errors).toHaveLength(1);
    fail = false;
    expect(await r.get()).toBe("up");
  });
});

describe("createScrapedGauge", () => {
  it("exports the reading's series on each scrape, and none when the reading failed", async () => {
    let value: Record<string, number> | Error = { a: 1, b: 2 };
    const reading = createScrapeReading(() => (value instanceof Error ? Promise.reject(value) : Promise.resolve(value)), { ttlMs: 0 });
    const gauge = createScrapedGauge<Record<string, number>, "k">({
      name: "test_scraped",
      help: "test",
      labelNames: ["k"],
      reading: () => reading,
      update: (v, set) => Object.entries(v).forEach(([k, n]) => set({ k }, n)),
    });
    const series = async () => (await gauge.get()).values.map((s) => [s.labels.k, s.value]);
    expect(await series()).toEqual([["a", 1], ["b", 2]]);
    value = { b: 3 };
    expect(await series()).toEqual([["b", 3]]);
    value = new Error("down");
    expect(await series()).toEqual([]);
  });
});
