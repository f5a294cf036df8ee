import { getAddress } from "ethers";
import type { ManifestSummary, ProofDocument, Registration, VerifyResult } from "@veriflow/events";

export interface ProofInput {
  verify: VerifyResult;
  chainId: number;
  registryAddress: string;
  /** The ContentRegistered log found for the hash; null when none was found in range. */
  registration: Registration | null;
  manifest: ManifestSummary;
  generatedAt: string | Date;
}

/** The self-contained proof document: the verify result plus what a third party re-checks on chain. */
export function buildProofDocument(input: ProofInput): ProofDocument {
  const { registration } = input;
  return {
    ...input.verify,
    proofVersion: "veriflow.proof/1",
    generatedAt: typeof input.generatedAt === "string" ? input.generatedAt : input.generatedAt.toISOString(),
    chainId: input.chainId,
    registryAddress: getAddress(input.registryAddress.toLowerCase()),
    registration,
    txHash: registration?.txHash ?? null,
    blockNumber: registration?.blockNumber ?? null,
    manifest: input.manifest,
  };
}
