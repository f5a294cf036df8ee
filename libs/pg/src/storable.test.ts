import { describe, expect, it } from "vitest";
import { isPostgresUnavailable } from "./pg-errors.js";
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

describe("isPostgresUnavailable", () => {
  it("is true for connection, resource, shutdown and rollback failures, through causes", () => {
    for (const code of ["ECONNREFUSED", "CONNECTION_CLOSED", "CONNECT_TIMEOUT", "08006", "53300", "57P01", "57014", "40001", "40P01", "55P03"]) {
      expect(isPostgresUnavailable(Object.assign(new Error("x"), { code })), code).toBe(true);
    }
    expect(isPostgresUnavailable(new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) }))).toBe(true);
  });

  it("is false for data the server refuses and for errors without a code", () => {
    for (const code of ["22P05", "22021", "23505", "23514", "42P01", undefined]) {
      expect(isPostgresUnavailable(Object.assign(new Error("x"), { code })), String(code)).toBe(false);
    }
    expect(isPostgresUnavailable(new TypeError("boom"))).toBe(false);
  });
});
