import { describe, expect, it } from "vitest";
import { LruCache } from "./lru-cache.js";

const cache = (maxEntries: number, maxBytes: number) => new LruCache<string, string>(maxEntries, maxBytes, (v) => v.length);

describe("LruCache", () => {
  it("evicts the least recently used entry past its entry bound", () => {
    const c = cache(2, 100);
    c.set("a", "1");
    c.set("b", "2");
    expect(c.get("a")).toBe("1"); // a is now the most recent
    c.set("c", "3");
    expect([c.get("a"), c.get("b"), c.get("c")]).toEqual(["1", undefined, "3"]);
    expect(c.size).toBe(2);
  });

  it("evicts past its byte bound, counts a replaced value once, and keeps nothing larger than the bound", () => {
    const c = cache(10, 10);
    c.set("a", "aaaa");
    c.set("a", "aaaa"); // replaced: still 4 bytes
    c.set("b", "bbbb");
    expect(c.size).toBe(2);
    c.set("c", "cccc"); // 12 bytes: a goes
    expect([c.get("a"), c.get("b"), c.get("c")]).toEqual([undefined, "bbbb", "cccc"]);
    c.set("big", "x".repeat(11));
    expect(c.get("big")).toBeUndefined();
    expect(c.size).toBe(2);
  });

  it("forgets a deleted entry and its bytes", () => {
    const c = cache(10, 8);
    c.set("a", "aaaa");
    c.delete("a");
    c.set("b", "bbbb");
    c.set("c", "cccc");
    expect([c.get("a"), c.get("b"), c.get("c")]).toEqual([undefined, "bbbb", "cccc"]);
  });
});
