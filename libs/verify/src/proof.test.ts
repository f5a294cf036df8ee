import { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { ProofDocument, type ManifestSummary } from "@veriflow/events";
import { buildProofDocument } from "./proof.js";
import { computeVerdict } from "./verdict.js";

const creator = new Wallet("0x" + "07".repeat(32)).address;
const hash = "0x" + "ab".repeat(32);
const uri = "https://example.org/m.json";
const verify = computeVerdict({
  fileHash: hash,
  manifestContentHash: hash,
  recovered: creator,
  creatorDidAddress: creator,
  submittedManifestUri: uri,
  onchain: { creator, timestamp: 1_700_000_000, manifestURI: uri, revoked: false, blockNumber: 7 },
});
const manifest: ManifestSummary = {
  uri,
  cid: null,
  contentHash: hash,
  contentUri: null,
  creatorDid: `did:pkh:eip155:31337:${creator}`,
  createdAt: "2024-01-01T00:00:00.000Z",
  signature: "0x" + "11".repeat(65),
};

describe("buildProofDocument", () => {
  it("extends the verify result with the registration it was found in", () => {
    const registration = { txHash: "0x" + "01".repeat(32), blockNumber: 42, blockHash: "0x" + "02".repeat(32), logIndex: 3 };
    const doc = buildProofDocument({
      verify,
      chainId: 31337,
      registryAddress: creator.toLowerCase(),
      registration,
      manifest,
      generatedAt: new Date("2024-02-02T00:00:00Z"),
    });
    expect(ProofDocument.parse(doc)).toEqual(doc);
    expect(doc).toMatchObject({
      ...verify,
      proofVersion: "veriflow.proof/1",
      generatedAt: "2024-02-02T00:00:00.000Z",
      registryAddress: creator,
      txHash: registration.txHash,
      blockNumber: 42,
      registration,
      manifest,
    });
  });

  it("has null txHash and blockNumber without a registration", () => {
    const doc = buildProofDocument({ verify, chainId: 1, registryAddress: creator, registration: null, manifest, generatedAt: "2024-02-02T00:00:00Z" });
    expect(ProofDocument.parse(doc)).toMatchObject({ registration: null, txHash: null, blockNumber: null, status: "OK" });
  });
});
