import { describe, expect, it } from "vitest";
import type { HttpError } from "@veriflow/errors";
import { parseSubmission, type SubmissionPolicy } from "./submission.js";

const registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"; // EIP-55 checksummed
const manifestURI = "https://manifests.example.com/m.json";
// As production runs it: nothing private allowed, any public rpcUrl allowed ("*").
const policy: SubmissionPolicy = { allowHttpManifests: true, allowedPrivateHosts: [], rpcUrls: { rpcUrl: "https://rpc.example.com", rpcUrlAllowlist: ["*"], allowedPrivateHosts: [] }, webhookAllowedPrivateHosts: [] };

function refusal(fields: Record<string, unknown>, p = policy): { status: number; code: string; message: string } | "accepted" {
  try {
    parseSubmission("verify", { registryAddress: registry, manifestURI, ...fields }, p);
    return "accepted";
  } catch (err) {
    const e = err as HttpError;
    return { status: e.status, code: e.code, message: e.message };
  }
}

const HOSTILE_HOSTS = [
  "127.0.0.1",
  "2130706433", // 127.0.0.1, decimal
  "0x7f.1", // 127.0.0.1, hex and shortened
  "0177.0.0.1", // 127.0.0.1, octal
  "0", // 0.0.0.0
  "10.0.0.1",
  "167772161", // 10.0.0.1, decimal
  "172.16.5.4",
  "192.168.1.1",
  "100.64.0.1", // CGNAT
  "169.254.169.254", // cloud metadata
  "[fd00:ec2::254]", // AWS metadata, IPv6
  "[fe80::a9fe:a9fe]", // link-local
  "[::1]",
  "[::]",
  "[::ffff:127.0.0.1]", // IPv4-mapped
  "[::ffff:169.254.169.254]",
  "224.0.0.1", // multicast
  "[ff02::1]",
  "255.255.255.255",
  "localhost",
  "metadata.localhost",
];

describe("parseSubmission refuses hostile input with a 400 that names the field", () => {
  it.each(HOSTILE_HOSTS)("a manifestURI, rpcUrl or callbackUrl naming %s", (host) => {
    expect(refusal({ manifestURI: `http://${host}/m.json` })).toMatchObject({ status: 400, code: "E_MANIFEST_URI_HOST_NOT_ALLOWED", message: expect.stringContaining('"manifestURI"') });
    expect(refusal({ manifestURI: `https://${host}:8443/m.json` })).toMatchObject({ code: "E_MANIFEST_URI_HOST_NOT_ALLOWED" });
    expect(refusal({ rpcUrl: `http://${host}:8545/` })).toMatchObject({ status: 400, code: "E_RPC_URL_HOST_NOT_ALLOWED", message: expect.stringContaining('"rpcUrl"') });
    expect(refusal({ callbackUrl: `https://${host}/hook` })).toMatchObject({ status: 400, code: "E_CALLBACK_HOST_NOT_ALLOWED", message: expect.stringContaining('"callbackUrl"') });
  });

  it("keeps what the operator allows: ALLOWED_PRIVATE_HOSTS for manifests and rpcUrls, WEBHOOK_ALLOWED_PRIVATE_HOSTS for callbacks", () => {
    const local: SubmissionPolicy = {
      allowHttpManifests: true,
      allowedPrivateHosts: ["127.0.0.1", "localhost"],
      rpcUrls: { rpcUrl: "http://127.0.0.1:8545", rpcUrlAllowlist: ["*"], allowedPrivateHosts: ["127.0.0.1"] },
      webhookAllowedPrivateHosts: ["127.0.0.1"],
    };
    expect(refusal({ manifestURI: "http://127.0.0.1:9000/m.json", rpcUrl: "http://127.0.0.1:9001", callbackUrl: "http://127.0.0.1:9002/hook" }, local)).toBe("accepted");
    expect(refusal({ manifestURI: "http://2130706433:9000/m.json" }, local)).toBe("accepted");
    expect(refusal({ manifestURI: "http://10.0.0.1/m.json" }, local)).toMatchObject({ code: "E_MANIFEST_URI_HOST_NOT_ALLOWED" });
    expect(refusal({ callbackUrl: "http://localhost:9002/hook" }, local)).toMatchObject({ code: "E_CALLBACK_HOST_NOT_ALLOWED" });
    // Public names are left to the connect-time guard (a name may resolve anywhere, and change).
    expect(refusal({ manifestURI: "https://localhost.example.com/m.json", callbackUrl: "https://hooks.example.com/x" })).toBe("accepted");
  });

  it("refuses a registry address without 0x, in ICAP form, of the wrong length, or with a wrong checksum; takes any case otherwise", () => {
    const bad = [
      registry.slice(2), // bare hex: ethers' isAddress takes it
      "XE56B6LYTQM6IC1650ZDTNXH76V5G6HTUW3", // the same address as ICAP: ethers' isAddress takes it
      "0X5FBDB2315678AFECB367F032D93F642F64180AA3",
      "0x5FbDB2315678afecb367f032d93F642f64180aa",
      "0x5FbDB2315678afecb367f032d93F642f64180aa30",
      "0x5FbDB2315678afecb367f032d93F642f64180aA3", // one letter's case changed: checksum broken
      "0x5FbDB2315678afecb367f032d93F642f64180aaZ",
    ];
    for (const registryAddress of bad) {
      expect(refusal({ registryAddress }), registryAddress).toMatchObject({ status: 400, code: "E_INVALID_REGISTRY_ADDRESS", message: expect.stringContaining('"registryAddress"') });
    }
    for (const registryAddress of [registry, registry.toLowerCase(), "0x" + registry.slice(2).toUpperCase()]) {
      expect(refusal({ registryAddress }), registryAddress).toBe("accepted");
    }
    expect(parseSubmission("verify", { registryAddress: registry.toLowerCase(), manifestURI }, policy).registryAddress).toBe(registry);
  });

  it.each([
    ["registryAddress", `${registry}\u0000`, "U+0000"],
    ["manifestURI", "https://manifests.exa\tmple.com/m.json", "U+0009"], // a URL parser would drop the tab silently
    ["manifestURI", "https://manifests.example.com/m\r\nx-injected: 1", "U+000D"],
    ["callbackUrl", "https://hooks.example.com/\u0085", "U+0085"], // C1
    ["rpcUrl", "https://rpc.example.com/\u007F", "U+007F"],
    ["manifestURI", "https://manifests.example.com/\u202Enosj.m", "U+202E"], // right-to-left override
    ["manifestURI", "https://manifests.example.com/\u2066m.json", "U+2066"],
    ["note", "an unknown field \u0007 is checked too", "U+0007"],
  ])("a control character in %s: %j", (name, value, found) => {
    expect(refusal({ [name]: value })).toMatchObject({ status: 400, code: "E_CONTROL_CHARACTER", message: expect.stringContaining(found) });
  });

  it("refuses a control character in a field's name, and still trims the whitespace around values", () => {
    expect(refusal({ "bad\u0000name": "x" })).toMatchObject({ code: "E_CONTROL_CHARACTER", message: expect.stringContaining("a field name") });
    expect(refusal({ registryAddress: ` ${registry}\r\n`, manifestURI: `${manifestURI}\n` })).toBe("accepted");
  });
});

describe("recheckEvery", () => {
  const accepted = (recheckEvery: string) => parseSubmission("verify", { registryAddress: registry, manifestURI, recheckEvery }, policy).recheckEverySeconds;

  it("takes seconds or an ISO-8601 duration of days to seconds, into the request as seconds", () => {
    expect(accepted("3600")).toBe(3600);
    expect(accepted("PT6H")).toBe(21_600);
    expect(accepted("P1D")).toBe(86_400);
    expect(accepted("p1dt12h")).toBe(129_600);
    expect(accepted("PT90M")).toBe(5400);
    expect(accepted("P365D")).toBe(365 * 86_400);
    expect(parseSubmission("verify", { registryAddress: registry, manifestURI }, policy)).not.toHaveProperty("recheckEverySeconds");
  });

  it("refuses anything else with 400 E_INVALID_RECHECK_EVERY, and a period outside 5 minutes to 365 days", () => {
    for (const bad of ["P", "PT", "1h", "P1W", "P1M", "PT1.5H", "-60", "P1DT", "soon"]) {
      expect(refusal({ recheckEvery: bad }), bad).toMatchObject({ status: 400, code: "E_INVALID_RECHECK_EVERY", message: expect.stringContaining('"recheckEvery"') });
    }
    expect(refusal({ recheckEvery: "299" })).toMatchObject({ code: "E_INVALID_RECHECK_EVERY", message: expect.stringContaining("between 300") });
    expect(refusal({ recheckEvery: "P366D" })).toMatchObject({ code: "E_INVALID_RECHECK_EVERY" });
  });
});
