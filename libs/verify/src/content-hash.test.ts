import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { contentHashOf, createContentHasher, isContentHash, normalizeHash, sameHash } from "./content-hash.js";

describe("content hash", () => {
  it("is 0x + lowercase hex SHA-256 of the bytes", () => {
    expect(contentHashOf(new TextEncoder().encode("abc"))).toBe(
      "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("hashes incrementally to the same value", () => {
    const bytes = randomBytes(100_000);
    const hasher = createContentHasher();
    for (let i = 0; i < bytes.length; i += 7777) hasher.update(bytes.subarray(i, i + 7777));
    expect(hasher.digest()).toBe("0x" + createHash("sha256").update(bytes).digest("hex"));
  });

  it("compares case-insensitively, normalizes to lowercase, rejects non-hashes", () => {
    const h = contentHashOf(new Uint8Array([1]));
    expect(sameHash(h, h.toUpperCase().replace("0X", "0x"))).toBe(true);
    expect(sameHash(h, contentHashOf(new Uint8Array([2])))).toBe(false);
    expect(sameHash("0x1234", "0x1234")).toBe(false);
    expect(normalizeHash("0x" + "AB".repeat(32))).toBe("0x" + "ab".repeat(32));
    expect(() => normalizeHash("ab".repeat(32))).toThrow(TypeError);
    expect(isContentHash(h)).toBe(true);
    expect(isContentHash(h + "00")).toBe(false);
  });
});
