import type { JobRequest, ManifestSummary, OnchainEntry, ProofDocument, Registration, VerifyResult } from "@veriflow/events";
import { sameHash } from "./content-hash.js";
import { parseDid, parseManifest, summarizeManifest } from "./manifest.js";
import { buildProofDocument } from "./proof.js";
import { recoverSigner } from "./recover-signer.js";
import { computeVerdict } from "./verdict.js";

/**
 * The verification's two decisions, as functions of what was fetched. The pipeline's
 * manifest and chain-check stages each run one; the gateway's in-process fallback runs
 * both: one definition of what "verified" means.
 */

/** What a verification needs of the chain (implemented over JSON-RPC in @veriflow/adapters). */
export interface ChainAccess {
  readEntry(registry: string, contentHash: string): Promise<OnchainEntry>;
  findRegistration(registry: string, contentHash: string): Promise<Registration | null>;
  chainId(): Promise<number>;
}

export interface ManifestCheck {
  manifest: ManifestSummary;
  /** The signer recovered from the signature; null when the signature is unusable. */
  recovered: string | null;
  checks: { manifestHashOk: boolean; signatureOk: boolean; didOk: boolean };
}

/** Parses the fetched manifest (PermanentError E_MANIFEST_INVALID), recovers its signer, compares hash and DID. */
export function checkManifest(input: { bytes: Uint8Array; cid: string | null; uri: string; contentHash: string }): ManifestCheck {
  const manifest = parseManifest(input.bytes);
  // Only content_hash is signed (EIP-191 over its 32 raw bytes).
  const recovered = recoverSigner(manifest.content_hash, manifest.signature);
  const didAddress = parseDid(manifest.creator_did).address;
  return {
    manifest: summarizeManifest(manifest, input.uri, input.cid),
    recovered,
    checks: {
      manifestHashOk: sameHash(manifest.content_hash, input.contentHash),
      signatureOk: recovered !== null,
      didOk: recovered !== null && didAddress.toLowerCase() === recovered.toLowerCase(),
    },
  };
}

/** Reads the registry and reaches the verdict; for proof jobs, adds the registration and builds the proof. */
export async function decideOnChain(
  chain: ChainAccess,
  request: JobRequest,
  contentHash: string,
  check: Pick<ManifestCheck, "manifest" | "recovered">,
  now: Date,
): Promise<VerifyResult | ProofDocument> {
  const onchain = await chain.readEntry(request.registryAddress, contentHash);
  const verify = computeVerdict({
    fileHash: contentHash,
    manifestContentHash: check.manifest.contentHash,
    recovered: check.recovered,
    creatorDidAddress: parseDid(check.manifest.creatorDid).address,
    submittedManifestUri: request.manifestUri,
    onchain,
  });
  if (request.jobType !== "proof") return verify;
  const registered = onchain.timestamp !== 0;
  const [chainId, registration] = await Promise.all([
    chain.chainId(),
    registered ? chain.findRegistration(request.registryAddress, contentHash) : Promise.resolve(null),
  ]);
  return buildProofDocument({ verify, chainId, registryAddress: request.registryAddress, registration, manifest: check.manifest, generatedAt: now.toISOString() });
}
