import { describe, expect, it } from "vitest";
import { BOOTSTRAP_PRINCIPAL, type Principal } from "@veriflow/auth";
import { HttpError } from "@veriflow/errors";
import { clientAddress, identifyByKey, peerHost } from "./client-identity.js";

describe("clientAddress: what per-address limits count", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["::FFFF:127.0.0.1", "127.0.0.1"],
    // One subscriber holds a /64: every address in it is one client.
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::ffff", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["1::2:3:4:5:6:7", "1:0:2:3::/64"],
    ["::1", "0:0:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["64:ff9b::192.0.2.33", "64:ff9b:0:0::/64"],
    ["", "unknown"],
    [undefined, "unknown"],
    ["not an address", "unknown"],
  ])("%j counts as %j", (raw, expected) => {
    expect(clientAddress(raw)).toBe(expected);
  });

  it("takes the host of a gRPC peer", () => {
    expect(peerHost("127.0.0.1:50123")).toBe("127.0.0.1");
    expect(peerHost("::1:50123")).toBe("::1");
    expect(peerHost("[2001:db8::1]:443")).toBe("2001:db8::1");
    expect(clientAddress(peerHost("::ffff:10.1.2.3:9000"))).toBe("10.1.2.3");
    expect(peerHost("unknown")).toBe("unknown");
  });
});

describe("identifyByKey", () => {
  // What the authenticator answers (its real lookups are tested in libs/auth): two bootstrap
  // keys (no stored id) and one stored key of tenant "acme"; anything else is refused.
  const principals: Record<string, Principal> = {
    "k-one": BOOTSTRAP_PRINCIPAL,
    "k-two": BOOTSTRAP_PRINCIPAL,
    "vf_stored": { tenant: "acme", scopes: ["read"], keyId: "0b7c4c9e-5e2f-4b7c-9d55-2f1c3a9e8d10", allTenants: false },
  };
  const identify = identifyByKey({
    authenticate: async (key) => principals[key ?? ""] ?? Promise.reject(new HttpError("E_UNAUTHORIZED", "the API key is not valid")),
  });
  const headers = (h: Record<string, string>) => (name: string) => h[name];

  it("names a bootstrap key by a digest prefix, never by the key", async () => {
    const one = await identify(headers({ "x-api-key": "k-one" }), "10.0.0.1");
    expect(one).toEqual({ tenant: "default", keyId: expect.stringMatching(/^[0-9a-f]{16}$/), ip: "10.0.0.1" });
    expect(JSON.stringify(one)).not.toContain("k-one");
    expect(await identify(headers({ authorization: "Bearer k-one" }), "10.0.0.2")).toEqual({ tenant: "default", keyId: one.keyId, ip: "10.0.0.2" });
    expect((await identify(headers({ "x-api-key": "k-two" }), "10.0.0.1")).keyId).not.toBe(one.keyId);
  });

  it("names a stored key by its id, with its tenant (whose limits apply)", async () => {
    expect(await identify(headers({ "x-api-key": "vf_stored" }), "10.0.0.1")).toEqual({ tenant: "acme", keyId: principals.vf_stored!.keyId, ip: "10.0.0.1" });
  });

  it("counts a request without a key, or with an unknown one, by its address", async () => {
    expect(await identify(headers({}), "10.0.0.1")).toEqual({ ip: "10.0.0.1" });
    expect(await identify(headers({ "x-api-key": "made-up" }), "10.0.0.1")).toEqual({ ip: "10.0.0.1" });
  });
});
