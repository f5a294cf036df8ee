import { describe, expect, it } from "vitest";
import { clientAddress, identifyByApiKeys, peerHost } from "./client-identity.js";

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

describe("identifyByApiKeys", () => {
  const identify = identifyByApiKeys(["k-one", "k-two"]);
  const headers = (h: Record<string, string>) => (name: string) => h[name];

  it("names a valid key by a digest prefix, never by the key", async () => {
    const one = await identify(headers({ "x-api-key": "k-one" }), "10.0.0.1");
    expect(one).toEqual({ keyId: expect.stringMatching(/^[0-9a-f]{16}$/), ip: "10.0.0.1" });
    expect(JSON.stringify(one)).not.toContain("k-one");
    expect(await identify(headers({ authorization: "Bearer k-one" }), "10.0.0.2")).toEqual({ keyId: one.keyId, ip: "10.0.0.2" });
    expect((await identify(headers({ "x-api-key": "k-two" }), "10.0.0.1")).keyId).not.toBe(one.keyId);
  });

  it("counts a request without a key, or with an unknown one, by its address", async () => {
    expect(await identify(headers({}), "10.0.0.1")).toEqual({ ip: "10.0.0.1" });
    expect(await identify(headers({ "x-api-key": "made-up" }), "10.0.0.1")).toEqual({ ip: "10.0.0.1" });
    expect(await identifyByApiKeys([])(headers({ "x-api-key": "anything" }), "10.0.0.1")).toEqual({ ip: "10.0.0.1" });
  });
});
