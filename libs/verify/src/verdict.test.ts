import { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { VerifyResult, type OnchainEntry } from "@veriflow/events";
import { computeVerdict, type VerdictInput } from "./verdict.js";

const creator = Wallet.createRandom().address;
const stranger = Wallet.createRandom().address;
const ZERO = "0x0000000000000000000000000000000000000000";
const hash = "0x" + "ab".repeat(32);
const otherHash = "0x" + "cd".repeat(32);
const uri = "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

const registered: OnchainEntry = { creator, timestamp: 1_700_000_000, manifestURI: uri, revoked: false, blockNumber: 7 };

function verdict(over: Partial<VerdictInput> = {}) {
  const input: VerdictInput = {
    fileHash: hash,
    manifestContentHash: hash,
    recovered: creator,
    creatorDidAddress: creator,
    submittedManifestUri: uri,
    onchain: registered,
    ...over,
  };
  const result = computeVerdict(input);
  VerifyResult.parse(result); // always a valid catalog VerifyResult
  return result;
}

describe("computeVerdict", () => {
  it("is OK with no reasons when hash, creator, URI and DID all hold", () => {
    const r = verdict();
    expect(r.status).toBe("OK");
    expect(r.reasons).toEqual([]);
    expect(r.checks).toEqual({ manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true });
    expect(r.recovered).toBe(creator);
    expect(r.onchain).toEqual({ ...registered, revoked: false });
  });

  it("compares hashes case-insensitively and emits them lowercase; addresses checksummed", () => {
    const upper = "0x" + "AB".repeat(32);
    const r = verdict({ fileHash: upper, recovered: creator.toLowerCase(), onchain: { ...registered, creator: creator.toLowerCase() } });
    expect(r.status).toBe("OK");
    expect(r.fileHash).toBe(hash);
    expect(r.recovered).toBe(creator);
    expect(r.onchain.creator).toBe(creator);
    expect(verdict({ manifestContentHash: upper }).status).toBe("OK");
  });

  it("WARNs with uri_mismatch when the manifest was updated on chain", () => {
    const r = verdict({ onchain: { ...registered, manifestURI: "https://example.org/m2.json" } });
    expect(r.status).toBe("WARN");
    expect(r.reasons).toEqual(["uri_mismatch"]);
    expect(r.checks).toEqual({ manifestHashOk: true, creatorOk: true, manifestOk: false, didOk: true });
  });

  it("WARNs with did_mismatch when the DID names someone other than the signer", () => {
    const r = verdict({ creatorDidAddress: stranger });
    expect(r.status).toBe("WARN");
    expect(r.reasons).toEqual(["did_mismatch"]);
    expect(r.checks.didOk).toBe(false);
    expect(r.checks.creatorOk).toBe(true);
  });

  it("lists both warnings in a stable order", () => {
    const r = verdict({ creatorDidAddress: stranger, onchain: { ...registered, manifestURI: "ipfs://other" } });
    expect(r.status).toBe("WARN");
    expect(r.reasons).toEqual(["uri_mismatch", "did_mismatch"]);
  });

  it("FAILs not_registered when the timestamp is 0, without creator or URI reasons", () => {
    const r = verdict({ onchain: { creator: ZERO, timestamp: 0, manifestURI: "", revoked: false, blockNumber: 7 } });
    expect(r.status).toBe("FAIL");
    expect(r.reasons).toEqual(["not_registered"]);
    expect(r.checks).toEqual({ manifestHashOk: true, creatorOk: false, manifestOk: false, didOk: true });
    expect(r.onchain.revoked).toBe(false);
  });

  it("FAILs revoked when registered with an empty URI, and sets onchain.revoked", () => {
    const r = verdict({ onchain: { ...registered, manifestURI: "", revoked: false, blockNumber: 7 } });
    expect(r.status).toBe("FAIL");
    expect(r.reasons).toEqual(["revoked"]);
    expect(r.onchain.revoked).toBe(true);
    expect(r.checks.manifestOk).toBe(false);
    expect(r.checks.creatorOk).toBe(true);
  });

  it("FAILs hash_mismatch when the manifest names other content", () => {
    const r = verdict({ manifestContentHash: otherHash });
    expect(r.status).toBe("FAIL");
    expect(r.reasons).toEqual(["hash_mismatch"]);
    expect(r.checks.manifestHashOk).toBe(false);
  });

  it("FAILs bad_signature when nothing was recovered, without creator or DID reasons", () => {
    const r = verdict({ recovered: null });
    expect(r.status).toBe("FAIL");
    expect(r.reasons).toEqual(["bad_signature"]);
    expect(r.recovered).toBeNull();
    expect(r.checks).toEqual({ manifestHashOk: true, creatorOk: false, manifestOk: true, didOk: false });
  });

  it("FAILs creator_mismatch when someone else registered the hash", () => {
    const r = verdict({ onchain: { ...registered, creator: stranger } });
    expect(r.status).toBe("FAIL");
    expect(r.reasons).toEqual(["creator_mismatch"]);
    expect(r.checks.creatorOk).toBe(false);
  });

  it("FAIL lists every reason that applies, warnings included, in catalog order", () => {
    const r = verdict({
      manifestContentHash: otherHash,
      creatorDidAddress: creator,
      recovered: stranger,
      onchain: { ...registered, manifestURI: "ipfs://moved" },
    });
    expect(r.status).toBe("FAIL");
    expect(r.reasons).toEqual(["hash_mismatch", "creator_mismatch", "uri_mismatch", "did_mismatch"]);
  });

  it("reports revoked, hash_mismatch and bad_signature together", () => {
    const r = verdict({ recovered: null, manifestContentHash: otherHash, onchain: { ...registered, manifestURI: "" } });
    expect(r.reasons).toEqual(["revoked", "hash_mismatch", "bad_signature"]);
  });

  it("treats a missing DID address as a DID mismatch when a signer was recovered", () => {
    const r = verdict({ creatorDidAddress: null });
    expect(r.status).toBe("WARN");
    expect(r.reasons).toEqual(["did_mismatch"]);
  });
});
