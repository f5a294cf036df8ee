import { describe, expect, it } from "vitest";
import { isTenant, tenantOfBytes } from "./tenant.js";

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

describe("isTenant", () => {
  it("takes lower-case names of letters, digits and hyphens, 1 to 63 long", () => {
    for (const ok of ["default", "acme", "a", "0", "team-7", "x".repeat(63)]) expect(isTenant(ok), ok).toBe(true);
    for (const bad of ["", "Acme", "-acme", "a_b", "a.b", "a b", "x".repeat(64), "é", 7, null]) expect(isTenant(bad), String(bad)).toBe(false);
  });
});

describe("tenantOfBytes: who owns a message that may not decode (a dead letter)", () => {
  it("an envelope's tenant; default for an envelope without one", () => {
    expect(tenantOfBytes(bytes({ type: "content.hashed", correlationId: "j", tenant: "acme", data: {} }))).toBe("acme");
    // An envelope its handler refused (an unknown type, bad data) still names its owner.
    expect(tenantOfBytes(bytes({ type: "future.event", correlationId: "j", tenant: "acme", data: "?" }))).toBe("acme");
    expect(tenantOfBytes(bytes({ type: "content.hashed", correlationId: "j", data: {} }))).toBe("default");
  });

  it("nobody for what is no envelope, or names no valid tenant", () => {
    for (const raw of ["not json", "[1,2]", "null", "42", { hello: "world" }, { type: "x" }, { type: "x", correlationId: "j", tenant: "Bad Name" }, { type: "x", correlationId: "j", tenant: 7 }]) {
      expect(tenantOfBytes(bytes(raw)), JSON.stringify(raw)).toBeNull();
    }
    expect(tenantOfBytes(new Uint8Array([0xff, 0xfe]))).toBeNull();
  });
});
