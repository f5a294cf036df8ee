import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_FOR_S, DEFAULT_TIMEOUT_S, DEFAULT_URL, DEV_KEY, parseCommand } from "./args.js";
import { UsageError } from "./errors.js";

const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const ID = "92a08901-0f1e-4c3b-9a7d-2b8f3c4d5e6f";
const verifyArgs = ["verify", "a.txt", "--manifest", "ipfs://bafy", "--registry", REGISTRY];

const usageError = (argv: string[], message: RegExp) => {
  expect(() => parseCommand(argv)).toThrow(UsageError);
  expect(() => parseCommand(argv)).toThrow(message);
};

describe("parseCommand", () => {
  it("watch, watches, unwatch: a hash and its manifest and registry; a filter; an id; each mistake a usage error", () => {
    const hash = "0x" + "ab".repeat(32);
    expect(parseCommand(["watch", hash, "--manifest", "ipfs://bafy", "--registry", REGISTRY, "--recheck-every", "P1D", "--timeout", "9"])).toEqual({
      kind: "watch",
      common: { url: DEFAULT_URL, apiKey: undefined, json: false, quiet: false },
      contentHash: hash,
      manifestUri: "ipfs://bafy",
      registry: REGISTRY,
      callbackUrl: undefined,
      recheckEvery: "P1D",
      wait: true,
      timeoutMs: 9000,
      retryForMs: DEFAULT_RETRY_FOR_S * 1000,
    });
    expect(parseCommand(["watch", hash, "--manifest", "ipfs://bafy", "--registry", REGISTRY, "--retry-for", "0"])).toMatchObject({ kind: "watch", retryForMs: 0 });
    usageError(["watch", hash, "--manifest", "ipfs://bafy", "--registry", REGISTRY, "--retry-for", "soon"], /--retry-for/);
    usageError(["watch", "0x12", "--manifest", "ipfs://bafy", "--registry", REGISTRY], /not a content hash/);
    usageError(["watch", hash, "--registry", REGISTRY], /--manifest <uri> is required/);
    usageError(["watch", hash, "--manifest", "ipfs://bafy", "--registry", "0x12"], /--registry must be/);
    expect(parseCommand(["watches", "--stopped", "--limit", "5"])).toMatchObject({ kind: "watches", active: false, limit: 5 });
    expect(parseCommand(["watches"])).toMatchObject({ kind: "watches", active: undefined });
    usageError(["watches", "--active", "--stopped"], /not both/);
    expect(parseCommand(["unwatch", ID])).toMatchObject({ kind: "unwatch", id: ID });
    usageError(["unwatch", "nope"], /not a watch id/);
  });

  it("verify: file, manifest, registry; no wait by default; defaults for url and timeout", () => {
    expect(parseCommand(verifyArgs)).toEqual({
      kind: "verify",
      common: { url: DEFAULT_URL, apiKey: undefined, json: false, quiet: false },
      file: "a.txt",
      manifestUri: "ipfs://bafy",
      registry: REGISTRY,
      proof: false,
      rpcUrl: undefined,
      priority: undefined,
      fresh: false,
      wait: false,
      timeoutMs: DEFAULT_TIMEOUT_S * 1000,
      retryForMs: DEFAULT_RETRY_FOR_S * 1000,
    });
  });

  it("verify --fresh: decide afresh, never from a known verdict", () => {
    expect(parseCommand([...verifyArgs, "--fresh"])).toMatchObject({ kind: "verify", fresh: true });
  });

  it("verify --retry-for: seconds the retries of a busy gateway may wait in all; 0: none", () => {
    expect(parseCommand([...verifyArgs, "--retry-for", "2.5"])).toMatchObject({ retryForMs: 2500, wait: false });
    expect(parseCommand([...verifyArgs, "--retry-for", "0"])).toMatchObject({ retryForMs: 0 });
    usageError([...verifyArgs, "--retry-for=-1"], /--retry-for must be a number of seconds \(0: no retries\)/);
    usageError([...verifyArgs, "--retry-for", "soon"], /--retry-for must be a number of seconds/);
  });

  it("verify: --proof --wait --timeout --rpc-url --json, options in any order", () => {
    const cmd = parseCommand(["verify", "--json", "--wait", ...verifyArgs.slice(1), "--proof", "--timeout", "2.5", "--rpc-url", "http://rpc"]);
    expect(cmd).toMatchObject({ kind: "verify", proof: true, wait: true, timeoutMs: 2500, rpcUrl: "http://rpc", common: { json: true } });
  });

  it("--timeout implies --wait; 0 means no limit", () => {
    expect(parseCommand([...verifyArgs, "--timeout", "0"])).toMatchObject({ wait: true, timeoutMs: 0 });
  });

  it("url and api key: the option wins over the environment, the environment over the default", () => {
    const env = { VERIFLOW_URL: "http://env:1", VERIFLOW_API_KEY: "k-env" };
    expect(parseCommand(["jobs", "list"], env)).toMatchObject({ common: { url: "http://env:1", apiKey: "k-env" } });
    expect(parseCommand(["jobs", "list", "--url", "https://opt", "--api-key", "k-opt"], env)).toMatchObject({ common: { url: "https://opt", apiKey: "k-opt" } });
    expect(parseCommand(["jobs", "list"], { VERIFLOW_API_KEY: "" })).toMatchObject({ common: { url: DEFAULT_URL, apiKey: undefined } });
  });

  it("jobs list / get / watch", () => {
    expect(parseCommand(["jobs", "list", "--status", "failed", "--limit", "5", "--offset", "10"])).toMatchObject({ kind: "jobs-list", status: "failed", limit: 5, offset: 10 });
    expect(parseCommand(["jobs", "get", ID, "--json"])).toMatchObject({ kind: "jobs-get", id: ID, common: { json: true } });
    expect(parseCommand(["jobs", "watch", ID, "--timeout", "3"])).toMatchObject({ kind: "jobs-watch", id: ID, timeoutMs: 3000 });
  });

  it("jobs retry: no wait by default; --wait or --timeout follows the new run", () => {
    expect(parseCommand(["jobs", "retry", ID])).toMatchObject({ kind: "jobs-retry", id: ID, wait: false });
    expect(parseCommand(["jobs", "retry", ID, "--wait"])).toMatchObject({ kind: "jobs-retry", wait: true, timeoutMs: DEFAULT_TIMEOUT_S * 1000 });
    expect(parseCommand(["jobs", "retry", "--timeout", "5", ID])).toMatchObject({ kind: "jobs-retry", wait: true, timeoutMs: 5000 });
    usageError(["jobs", "retry"], /missing <job-id>/);
    usageError(["jobs", "retry", "nope"], /is not a job id/);
  });

  it("dead-letters list / show / replay", () => {
    expect(parseCommand(["dead-letters", "list"])).toMatchObject({ kind: "dead-letters-list", consumer: undefined, after: undefined, limit: undefined });
    expect(parseCommand(["dead-letters", "list", "--consumer", "status-projection", "--after", "12", "--limit", "5"])).toMatchObject({
      kind: "dead-letters-list",
      consumer: "status-projection",
      after: 12,
      limit: 5,
    });
    expect(parseCommand(["dead-letters", "show", "7", "--json"])).toMatchObject({ kind: "dead-letters-show", seq: 7, common: { json: true } });
    expect(parseCommand(["dead-letters", "replay", "7"])).toMatchObject({ kind: "dead-letters-replay", seq: 7 });
    expect(parseCommand(["dead-letters"])).toMatchObject({ kind: "help", text: expect.stringContaining("dead-letters replay <seq>") });
    usageError(["dead-letters", "show"], /missing <seq>/);
    usageError(["dead-letters", "replay", "0"], /is not a dead letter's sequence/);
    usageError(["dead-letters", "show", "x1"], /is not a dead letter's sequence/);
    usageError(["dead-letters", "list", "--limit", "101"], /at most 100/);
    usageError(["dead-letters", "purge"], /unknown command "dead-letters purge"/);
  });

  it("dev publish: the public dev key and ./data by default; env and options override", () => {
    expect(parseCommand(["dev", "publish", "f.txt"])).toMatchObject({ kind: "dev-publish", file: "f.txt", ipfs: false, key: DEV_KEY, dataDir: "data" });
    const key = `0x${"11".repeat(32)}`;
    expect(parseCommand(["dev", "publish", "f.txt", "--ipfs"], { VERIFLOW_DATA_DIR: "/tmp/d", VERIFLOW_DEV_KEY: key })).toMatchObject({ ipfs: true, key, dataDir: "/tmp/d" });
    expect(parseCommand(["dev", "publish", "f.txt", "--data-dir", "x"], { VERIFLOW_DATA_DIR: "/tmp/d" })).toMatchObject({ dataDir: "x" });
  });

  it("help and version", () => {
    expect(parseCommand([])).toMatchObject({ kind: "help", text: expect.stringContaining("Exit codes:") });
    expect(parseCommand(["--help"])).toMatchObject({ kind: "help" });
    expect(parseCommand(["verify", "--help"])).toMatchObject({ kind: "help", text: expect.stringContaining("--manifest <uri>") });
    expect(parseCommand(["help", "dev"])).toMatchObject({ kind: "help", text: expect.stringContaining("local-stack.json") });
    expect(parseCommand(["jobs"])).toMatchObject({ kind: "help" });
    expect(parseCommand(["--version"])).toEqual({ kind: "version" });
  });

  it("usage errors a person can act on", () => {
    usageError(["frobnicate"], /unknown command "frobnicate"/);
    usageError(["jobs", "delete"], /unknown command "jobs delete"/);
    usageError(["verify", "--manifest", "ipfs://x", "--registry", REGISTRY], /missing <file>/);
    usageError(["verify", "a.txt", "--registry", REGISTRY], /--manifest <uri> is required/);
    usageError(["verify", "a.txt", "--manifest", "ipfs://x"], /--registry <address> is required/);
    usageError(["verify", "a.txt", "--manifest", "ipfs://x", "--registry", "0x123"], /40-hex-digit address/);
    usageError([...verifyArgs, "b.txt"], /unexpected argument "b.txt"/);
    usageError([...verifyArgs, "--frob"], /Unknown option '--frob'/);
    usageError([...verifyArgs, "--timeout", "soon"], /--timeout must be a number/);
    usageError([...verifyArgs, "--url", "ftp://x"], /--url must be an http\(s\) URL/);
    usageError(["jobs", "get", "not-a-uuid"], /is not a job id/);
    usageError(["jobs", "get"], /missing <job-id>/);
    usageError(["jobs", "list", "--status", "done"], /--status must be one of/);
    usageError(["jobs", "list", "--limit", "0"], /--limit must be an integer ≥ 1/);
    usageError(["jobs", "list", "--limit", "500"], /at most 100/);
    usageError(["dev", "publish", "f.txt", "--key", "0xabc"], /--key must be/);
    usageError(["dev", "unpublish"], /unknown command "dev unpublish"/);
  });
});

describe("parseCommand: keys", () => {
  const env = { DATABASE_URL: "postgres://u@127.0.0.1/db" };

  it("create, list and revoke work on DATABASE_URL", () => {
    expect(parseCommand(["keys", "create", "--tenant", "acme", "--scopes", "submit,read", "--expires", "30d"], env)).toEqual({
      kind: "keys-create",
      json: false,
      databaseUrl: env.DATABASE_URL,
      tenant: "acme",
      scopes: "submit,read",
      expires: "30d",
    });
    expect(parseCommand(["keys", "list", "--json"], env)).toEqual({ kind: "keys-list", json: true, databaseUrl: env.DATABASE_URL, tenant: undefined });
    expect(parseCommand(["keys", "revoke", ID.toUpperCase()], env)).toEqual({ kind: "keys-revoke", json: false, databaseUrl: env.DATABASE_URL, id: ID });
  });

  it("refuses what cannot work, before touching the database", () => {
    expect(() => parseCommand(["keys", "list"], {})).toThrow(/DATABASE_URL/);
    expect(() => parseCommand(["keys", "create", "--tenant", "acme"], env)).toThrow(/--tenant and --scopes are required/);
    expect(() => parseCommand(["keys", "revoke", "nope"], env)).toThrow(/not a key id/);
    expect(() => parseCommand(["keys", "create", "--tenant", "a", "--scopes", "read", "--color"], env)).toThrow(UsageError);
    expect(() => parseCommand(["keys", "rotate"], env)).toThrow(/unknown command "keys rotate"/);
    expect(parseCommand(["keys"], env)).toMatchObject({ kind: "help" });
  });

  it("verify <dir> --manifest-map: a folder as batches, of --batch-size files (100 unless told)", () => {
    expect(parseCommand(["verify", "./photos", "--manifest-map", "map.json", "--registry", REGISTRY, "--batch-size", "25"])).toEqual({
      kind: "verify-folder",
      common: { url: DEFAULT_URL, apiKey: undefined, json: false, quiet: false },
      dir: "./photos",
      manifestMap: "map.json",
      registry: REGISTRY,
      proof: false,
      rpcUrl: undefined,
      timeoutMs: DEFAULT_TIMEOUT_S * 1000,
      batchSize: 25,
    });
    expect(parseCommand(["verify", "d", "--manifest-map", "m.json", "--registry", REGISTRY])).toMatchObject({ batchSize: 100 });
    usageError(["verify", "d", "--manifest-map", "m.json"], /--registry/);
    usageError(["verify", "d", "--manifest-map", "m.json", "--registry", REGISTRY, "--manifest", "ipfs://x"], /not both/);
    usageError(["verify", "d", "--manifest-map", "m.json", "--registry", REGISTRY, "--batch-size", "0"], /--batch-size/);
  });
});
