import { describe, expect, it } from "vitest";
import { storable, storableText } from "./storable.js";

describe("storable", () => {
  it("replaces NUL and lone surrogates with U+FFFD, keeping paired surrogates", () => {
    expect(storableText("a\u0000b")).toBe("a\uFFFDb");
    expect(storableText("x\uD800y\uDC00z")).toBe("x\uFFFDy\uFFFDz");
    expect(storableText("emoji \uD83D\uDE00")).toBe("emoji \uD83D\uDE00");
  });

  it("cleans nested values and keys, and returns the same object when nothing needed it", () => {
    const clean = { a: [1, "x", { b: null }], c: true };
    expect(storable(clean)).toBe(clean);
    expect(storable({ a: ["ok", "n\u0000"], "k\u0000": 1 })).toEqual({ a: ["ok", "n\uFFFD"], "k\uFFFD": 1 });
  });
});
