import { describe, expect, it } from "vitest";
import { createOutboundHostCheck } from "./outbound-host.js";

describe("createOutboundHostCheck: the one rule for hosts a client asks us to call", () => {
  const refused = createOutboundHostCheck([]);

  it.each([
    // [what the client sent, the host refused as the URL reads it]
    ["http://127.0.0.1/", "127.0.0.1"],
    ["http://2130706433/", "127.0.0.1"], // decimal
    ["http://0x7f.1/", "127.0.0.1"], // hex, shortened
    ["http://0177.0.0.1/", "127.0.0.1"], // octal
    ["http://127.1:8080/", "127.0.0.1"],
    ["http://0/", "0.0.0.0"],
    ["http://10.1.2.3/", "10.1.2.3"],
    ["http://172.16.0.1/", "172.16.0.1"],
    ["http://192.168.0.10/", "192.168.0.10"],
    ["http://100.64.0.1/", "100.64.0.1"], // CGNAT
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254"], // cloud metadata
    ["http://[fd00:ec2::254]/", "fd00:ec2::254"], // AWS metadata over IPv6 (unique-local)
    ["http://[fe80::a9fe:a9fe]/", "fe80::a9fe:a9fe"], // link-local
    ["http://[::1]/", "::1"],
    ["http://[::]/", "::"],
    ["http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"], // IPv4-mapped
    ["http://[::ffff:a9fe:a9fe]/", "::ffff:a9fe:a9fe"],
    ["http://[64:ff9b::a00:1]/", "64:ff9b::a00:1"], // NAT64 of 10.0.0.1
    ["http://224.0.0.251/", "224.0.0.251"], // multicast
    ["http://[ff02::1]/", "ff02::1"],
    ["http://255.255.255.255/", "255.255.255.255"],
    ["http://localhost:3000/", "localhost"],
    ["http://LOCALHOST./", "localhost."],
    ["http://api.localhost/", "api.localhost"],
  ])("refuses %s", (url, host) => {
    expect(refused(new URL(url))).toBe(host);
  });

  it.each(["https://example.com/m.json", "http://8.8.8.8/", "https://[2606:4700:4700::1111]/", "http://localhost.example.com/", "http://127.0.0.1.nip.io/"])(
    "leaves %s to the connect-time guard (public literal, or a name)",
    (url) => expect(refused(new URL(url))).toBeNull(),
  );

  it("exempts allow-listed hosts, by host or by host and port, in any spelling of the address", () => {
    const local = createOutboundHostCheck(["127.0.0.1", "localhost:8080", "[::1]:9000"]);
    expect(local(new URL("http://127.0.0.1:1234/"))).toBeNull();
    expect(local(new URL("http://2130706433:1234/"))).toBeNull();
    expect(local(new URL("http://localhost:8080/"))).toBeNull();
    expect(local(new URL("http://localhost:8081/"))).toBe("localhost");
    expect(local(new URL("http://[::1]:9000/"))).toBeNull();
    expect(local(new URL("http://[::1]:9001/"))).toBe("::1");
    expect(local(new URL("http://10.0.0.1/"))).toBe("10.0.0.1");
  });

  it("never accepts a zone id: such a URL does not parse", () => {
    expect(() => new URL("http://[fe80::1%25eth0]/")).toThrow();
  });
});
