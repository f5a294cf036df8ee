import { describe, expect, it } from "vitest";
import { EnvReader } from "@veriflow/platform";
import { readChainEndpointConfig } from "../config.js";
import { MAX_URL_LENGTH } from "../url-length.js";
import { checkRpcUrl, normalizeRpcUrl, type RpcUrlPolicy } from "./rpc-url.js";

const configured = "http://127.0.0.1:8545";
const policy = (...rpcUrlAllowlist: string[]): RpcUrlPolicy => ({ rpcUrl: configured, rpcUrlAllowlist });

describe("checkRpcUrl: the one rule for a job's own rpcUrl", () => {
  // [allow-list, the job's rpcUrl, outcome]
  const table: [string[], string, "ok" | "E_RPC_URL_NOT_ALLOWED" | "E_INVALID_RPC_URL" | "E_RPC_URL_HOST_NOT_ALLOWED"][] = [
    // nothing allow-listed: only the configured endpoint, however it is spelled
    [[], "http://127.0.0.1:8545", "ok"],
    [[], "http://127.0.0.1:8545/", "ok"],
    [[], "HTTP://127.0.0.1:8545", "ok"],
    [[], "http://127.0.0.1:8546", "E_RPC_URL_NOT_ALLOWED"],
    [[], "https://rpc.example.com", "E_RPC_URL_NOT_ALLOWED"],
    // exact entries, compared after normalisation: scheme and host case, default port, empty path
    [["https://rpc.example.com"], "https://rpc.example.com", "ok"],
    [["https://rpc.example.com"], "https://rpc.example.com/", "ok"],
    [["https://rpc.example.com"], "https://RPC.Example.COM", "ok"],
    [["https://rpc.example.com"], "https://rpc.example.com:443/", "ok"],
    [["https://rpc.example.com:443"], "https://rpc.example.com", "ok"],
    [["http://127.0.0.1:9000"], "http://2130706433:9000/", "ok"],
    [["https://rpc.example.com"], "http://rpc.example.com", "E_RPC_URL_NOT_ALLOWED"],
    [["https://rpc.example.com"], "https://rpc.example.com:8443", "E_RPC_URL_NOT_ALLOWED"],
    [["https://rpc.example.com"], "https://rpc.example.com.evil.io", "E_RPC_URL_NOT_ALLOWED"],
    [["https://rpc.example.com"], "https://user@rpc.example.com", "E_RPC_URL_NOT_ALLOWED"],
    // path and query are the server's to interpret: kept exactly, trailing slash and case included
    [["https://mainnet.example.io/v3/KEY"], "https://mainnet.example.io/v3/KEY", "ok"],
    [["https://mainnet.example.io/v3/KEY"], "https://mainnet.example.io/v3/KEY/", "E_RPC_URL_NOT_ALLOWED"],
    [["https://mainnet.example.io/v3/KEY"], "https://mainnet.example.io/v3/key", "E_RPC_URL_NOT_ALLOWED"],
    [["https://mainnet.example.io/v3/KEY"], "https://mainnet.example.io/v3/KEY?x=1", "E_RPC_URL_NOT_ALLOWED"],
    [["https://rpc.example.com/?key=a"], "https://rpc.example.com?key=a", "ok"],
    // "*": any http(s) endpoint
    [["*"], "https://anything.example.org/rpc", "ok"],
    // "*" admits public hosts only: a non-public literal in any spelling, or localhost, is refused
    [["*"], "http://10.0.0.5:8545", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://127.0.0.1:8546", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://2130706433:8546/", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://0x7f.1:8546/", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://169.254.169.254/latest/meta-data", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://[fd00:ec2::254]/", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://[fe80::a9fe:a9fe]/", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://[::ffff:10.0.0.1]:8545/", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://100.64.0.1/", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://[::]/", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://224.0.0.1/", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "http://localhost:8545", "E_RPC_URL_HOST_NOT_ALLOWED"],
    [["*"], "https://8.8.8.8/", "ok"],
    // an endpoint the operator named is allowed wherever it is
    [["*", "http://10.0.0.5:8545"], "http://10.0.0.5:8545", "ok"],
    // never a URL: refused whatever the allow-list says
    [["*"], "not a url", "E_INVALID_RPC_URL"],
    [["*"], "ws://rpc.example.com", "E_INVALID_RPC_URL"],
    [["*"], "file:///etc/passwd", "E_INVALID_RPC_URL"],
    [["*"], "https://rpc.example.com/#frag", "E_INVALID_RPC_URL"],
    [["*"], "https://rpc.example.com/#", "E_INVALID_RPC_URL"],
    [["*"], `https://rpc.example.com/${"a".repeat(MAX_URL_LENGTH)}`, "E_INVALID_RPC_URL"],
  ];

  it.each(table)("allow-list %j, rpcUrl %s: %s", (allowlist, rpcUrl, outcome) => {
    const r = checkRpcUrl(rpcUrl, policy(...allowlist));
    expect(r.ok ? "ok" : r.code).toBe(outcome);
  });

  it("lets ALLOWED_PRIVATE_HOSTS exempt a host that \"*\" admits", () => {
    const local = { ...policy("*"), allowedPrivateHosts: ["127.0.0.1", "localhost:8545"] };
    expect(checkRpcUrl("http://127.0.0.1:9999", local)).toMatchObject({ ok: true });
    expect(checkRpcUrl("http://localhost:8545", local)).toMatchObject({ ok: true });
    expect(checkRpcUrl("http://localhost:8546", local)).toMatchObject({ ok: false, code: "E_RPC_URL_HOST_NOT_ALLOWED" });
    expect(checkRpcUrl("http://10.0.0.1", local)).toMatchObject({ ok: false, code: "E_RPC_URL_HOST_NOT_ALLOWED", message: expect.stringContaining("ALLOWED_PRIVATE_HOSTS") });
  });

  it("answers the normalised URL, the form endpoints are kept under", () => {
    expect(checkRpcUrl("HTTPS://RPC.Example.com:443", policy("*"))).toEqual({ ok: true, url: "https://rpc.example.com/" });
    expect(normalizeRpcUrl("http://127.0.0.1:8545")).toBe("http://127.0.0.1:8545/");
  });

  it("explains a refusal in words a client can act on", () => {
    expect(checkRpcUrl("https://x.example", policy())).toMatchObject({ message: expect.stringMatching(/RPC_URL_ALLOWLIST.*omit it/) });
    expect(checkRpcUrl("ftp://x.example", policy())).toMatchObject({ message: expect.stringMatching(/http\(s\) URL/) });
  });
});

describe("RPC_URL_ALLOWLIST", () => {
  const read = (value: string) => {
    const r = new EnvReader({ RPC_URL_ALLOWLIST: value });
    return { config: readChainEndpointConfig(r), problems: r.problems };
  };

  it("takes '*' and endpoint URLs", () => {
    expect(read("*, https://rpc.example.com").problems).toEqual([]);
  });

  it("reports an entry that could never match, at start rather than on every job", () => {
    expect(read("rpc.example.com,https://ok.example,wss://x.example").problems).toEqual([
      'RPC_URL_ALLOWLIST: "rpc.example.com" is not "*" or an http(s) URL without a #fragment',
      'RPC_URL_ALLOWLIST: "wss://x.example" is not "*" or an http(s) URL without a #fragment',
    ]);
  });
});
