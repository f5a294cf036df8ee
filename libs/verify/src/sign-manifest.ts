import { getBytes, Wallet } from "ethers";
import { normalizeHash } from "./content-hash.js";
import { formatDid, type Manifest } from "./manifest.js";

export interface SignManifestInput {
  contentHash: string;
  /** 0x-prefixed 32-byte private key of the creator. */
  privateKey: string;
  chainId: number;
  contentUri?: string;
  createdAt?: string | Date;
}

/**
 * A manifest signed as DOMAIN.md says: `wallet.signMessage(getBytes(content_hash))`,
 * EIP-191 over the 32 raw hash bytes, with the signer's did:pkh as `creator_did`.
 */
export function createSignedManifest(input: SignManifestInput): Manifest {
  const wallet = new Wallet(input.privateKey);
  const contentHash = normalizeHash(input.contentHash);
  const createdAt = input.createdAt ?? new Date();
  return {
    version: "1.0",
    algorithm: "sha256",
    content_hash: contentHash,
    ...(input.contentUri !== undefined ? { content_uri: input.contentUri } : {}),
    creator_did: formatDid(input.chainId, wallet.address),
    created_at: typeof createdAt === "string" ? createdAt : createdAt.toISOString(),
    signature: wallet.signMessageSync(getBytes(contentHash)),
    attestations: [],
  };
}
