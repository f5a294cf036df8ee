import { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { PermanentError } from "@veriflow/errors";
import { ManifestSummary } from "@veriflow/events";
import { formatDid, parseDid, parseManifest, summarizeManifest } from "./manifest.js";
import { createSignedManifest } from "./sign-manifest.js";
import { recoverSigner } from "./recover-signer.js";

const wallet = new Wallet("0x" + "5a".repeat(32));
const contentHash = "0x" + "12".repeat(32);
const good = createSignedManifest({
  contentHash,
  privateKey: wallet.privateKey,
  chainId: 31337,
  contentUri: "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
  createdAt: "2024-01-01T00:00:00.000Z",
});
const bytes = (doc: unknown) => new TextEncoder().encode(typeof doc === "string" ? doc : JSON.stringify(doc));

function problemsOf(doc: unknown): string {
  try {
    parseManifest(bytes(doc));
  } catch (err) {
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("E_MANIFEST_INVALID");
    return (err as Error).message;
  }
  throw new Error("expected parseManifest to throw");
}

describe("createSignedManifest", () => {
  it("signs the 32 raw hash bytes with the creator's did:pkh", () => {
    expect(good).toMatchObject({
      version: "1.0",
      algorithm: "sha256",
      content_hash: contentHash,
      creator_did: `did:pkh:eip155:31337:${wallet.address}`,
      created_at: "2024-01-01T00:00:00.000Z",
      attestations: [],
    });
    expect(recoverSigner(good.content_hash, good.signature)).toBe(wallet.address);
    expect(wallet.signMessageSync(Buffer.from(contentHash.slice(2), "hex"))).toBe(good.signature);
  });
});

describe("parseManifest", () => {
  it("accepts a signed manifest and keeps unknown fields", () => {
    const m = parseManifest(bytes({ ...good, generator: "veriflow-test" }));
    expect(m).toEqual({ ...good, generator: "veriflow-test" });
  });

  it("tolerates a BOM, a missing attestations array, a null content_uri and offsets in created_at", () => {
    const { attestations: _a, content_uri: _c, ...rest } = good;
    const m = parseManifest(bytes("\uFEFF" + JSON.stringify({ ...rest, content_uri: null, created_at: "2024-01-01T02:00:00+02:00" })));
    expect(m.attestations).toEqual([]);
    expect(m.content_uri).toBeNull();
  });

  it("names every problem at once", () => {
    const msg = problemsOf({ ...good, version: "2.0", algorithm: "md5", signature: "0x1234", created_at: "yesterday" });
    expect(msg).toMatch(/^manifest is invalid: /);
    expect(msg).toContain('version must be "1.0"');
    expect(msg).toContain('algorithm must be "sha256"');
    expect(msg).toContain("signature must be a 65-byte signature");
    expect(msg).toContain("created_at must be an ISO-8601 timestamp");
  });

  it.each([
    ["content_hash", { content_hash: "0x1234" }, "content_hash must be 0x followed by 64 hex characters"],
    ["content_hash", { content_hash: "12".repeat(32) }, "content_hash must be 0x followed by 64 hex characters"],
    ["content_hash missing", { content_hash: undefined }, "content_hash is required"],
    ["content_uri", { content_uri: "ftp://x/y" }, "content_uri must be an ipfs:// or https:// URI"],
    ["creator_did", { creator_did: `did:ethr:${wallet.address}` }, "creator_did must be did:pkh:eip155:<chainId>:<0x address>"],
    ["creator_did checksum", { creator_did: `did:pkh:eip155:1:${flipCase(wallet.address)}` }, "invalid EIP-55 checksum"],
    ["signature type", { signature: 42 }, "signature must be a string"],
    ["attestations", { attestations: {} }, "attestations must be an array"],
  ])("rejects a bad %s", (_name, patch, expected) => {
    expect(problemsOf({ ...good, ...patch })).toContain(expected);
  });

  it("rejects bytes that are not UTF-8, not JSON or not an object", () => {
    expect(() => parseManifest(new Uint8Array([0xff, 0xfe, 0x00]))).toThrow(/not UTF-8/);
    expect(problemsOf("{ nope")).toMatch(/it is not JSON/);
    expect(problemsOf("[1,2]")).toMatch(/must be a JSON object/);
    expect(problemsOf("null")).toMatch(/must be a JSON object/);
  });

  it("summarizes for proofs with a lowercase hash", () => {
    const m = parseManifest(bytes({ ...good, content_hash: contentHash.toUpperCase().replace("0X", "0x") }));
    const s = summarizeManifest(m, "ipfs://x", null);
    expect(ManifestSummary.parse(s)).toEqual(s);
    expect(s.contentHash).toBe(contentHash);
    expect(s.creatorDid).toBe(good.creator_did);
  });
});

describe("parseDid", () => {
  it("splits chain id and checksummed address", () => {
    expect(parseDid(`did:pkh:eip155:8453:${wallet.address.toLowerCase()}`)).toEqual({ chainId: 8453, address: wallet.address });
    expect(formatDid(1, wallet.address.toLowerCase())).toBe(`did:pkh:eip155:1:${wallet.address}`);
  });

  it.each(["did:pkh:eip155:0:0x" + "11".repeat(20), "did:pkh:solana:1:abc", "did:pkh:eip155:1:0x1234", "x"])("rejects %s", (did) => {
    expect(() => parseDid(did)).toThrow(PermanentError);
  });
});

function flipCase(address: string): string {
  const body = address.slice(2).replace(/[a-f]/i, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
  return "0x" + body;
}
