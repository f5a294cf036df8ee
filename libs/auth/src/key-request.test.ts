import { describe, expect, it } from "vitest";
import { parseExpiry, parseKeyRequest, parseTenant } from "./key-request.js";
import { parseScopes } from "./scopes.js";

const now = new Date("2026-01-01T00:00:00Z");
const code = (fn: () => unknown) => {
  try {
    fn();
    return "ok";
  } catch (err) {
    return `${(err as { status: number }).status} ${(err as { code: string }).code}`;
  }
};

describe("what a new key may be asked for (CLI and admin API alike)", () => {
  it("scopes: a list or comma-separated, known ones only, in a fixed order, at least one", () => {
    expect(parseScopes("read, submit,read")).toEqual(["submit", "read"]);
    expect(parseScopes(["admin", "submit"])).toEqual(["submit", "admin"]);
    for (const bad of ["", ",", "write", "read,write", [], ["READ"], [1], null, undefined, 7]) expect(code(() => parseScopes(bad)), JSON.stringify(bad)).toBe("400 E_INVALID_SCOPES");
  });

  it("tenant: a tenant name", () => {
    expect(parseTenant("acme-2")).toBe("acme-2");
    for (const bad of ["", "Acme", "a b", "-x", 3, null, undefined]) expect(code(() => parseTenant(bad)), String(bad)).toBe("400 E_INVALID_TENANT");
  });

  it("expiry: a lifetime or a zoned date-time, in the future, within ten years; nothing for never", () => {
    expect(parseExpiry("30d", now)).toEqual(new Date("2026-01-31T00:00:00Z"));
    expect(parseExpiry("12h", now)).toEqual(new Date("2026-01-01T12:00:00Z"));
    expect(parseExpiry("90m", now)).toEqual(new Date("2026-01-01T01:30:00Z"));
    expect(parseExpiry("3600s", now)).toEqual(new Date("2026-01-01T01:00:00Z"));
    expect(parseExpiry("2026-06-01T00:00:00+02:00", now)).toEqual(new Date("2026-05-31T22:00:00Z"));
    for (const never of [undefined, null, ""]) expect(parseExpiry(never, now)).toBeNull();
    for (const bad of ["30", "30y", "-1d", "0s", "2025-12-31T00:00:00Z", "2026-06-01", "3651d", "soon", 30, {}]) {
      expect(code(() => parseExpiry(bad, now)), JSON.stringify(bad)).toBe("400 E_INVALID_EXPIRY");
    }
  });

  it("all three at once", () => {
    expect(parseKeyRequest({ tenant: "acme", scopes: "read", expires: "1d" }, now)).toEqual({ tenant: "acme", scopes: ["read"], expiresAt: new Date("2026-01-02T00:00:00Z") });
  });
});
