export { contentHashOf, createContentHasher, isContentHash, normalizeHash, sameHash, type ContentHasher } from "./content-hash.js";
export { ManifestSchema, formatDid, parseDid, parseManifest, summarizeManifest, type Manifest } from "./manifest.js";
export { eip191Digest, recoverSigner } from "./recover-signer.js";
export { createSignedManifest, type SignManifestInput } from "./sign-manifest.js";
export { computeVerdict, type VerdictInput } from "./verdict.js";
export {
  DAG_PB_CODE,
  RAW_CODE,
  parseIpfsUri,
  resolveIpfs,
  verifyBlock,
  type FetchBlock,
  type ResolveIpfsOptions,
} from "./ipfs.js";
export { buildProofDocument, type ProofInput } from "./proof.js";
export * from "./steps.js";
export { decideFromKnown, mayAnswerFromKnown, type KnownVerdictDecision } from "./known-verdict.js";
