import { contentHashOf, createSignedManifest, type Manifest } from "@veriflow/verify";
import type { ChainHandle } from "./chain.js";
import type { ManifestServer } from "./manifest-server.js";
import { registerContent, type MinedTx } from "./registry.js";

export interface PublishContentInput {
  /** The dev chain to register on (its RPC URL, chain id and funded accounts). */
  chain: Pick<ChainHandle, "rpcUrl" | "chainId" | "accounts">;
  registry: string;
  manifests: ManifestServer;
  content: Uint8Array | string;
  /** The key that signs the manifest (its address becomes creator_did); the chain's first account by default. */
  signerKey?: string;
  /** The key that registers on chain; defaults to the signer. Null: do not register. */
  registrantKey?: string | null;
  /** Serve the manifest over http (under `name`) or from the IPFS block store. */
  via: "http" | "ipfs";
  name?: string;
  /** Edits the signed manifest before it is served (to build bad manifests on purpose). */
  tamper?: (manifest: Manifest) => Manifest;
}

export interface PublishedContent {
  contentHash: string;
  manifest: Manifest;
  manifestUri: string;
  registration: MinedTx | null;
}

/** What a creator does: hash the content, sign a manifest, serve it, register it on chain. */
export async function publishContent(input: PublishContentInput): Promise<PublishedContent> {
  const bytes = typeof input.content === "string" ? new TextEncoder().encode(input.content) : input.content;
  const contentHash = contentHashOf(bytes);
  const signerKey = input.signerKey ?? input.chain.accounts[0]!.privateKey;
  let manifest = createSignedManifest({ contentHash, privateKey: signerKey, chainId: input.chain.chainId });
  if (input.tamper) manifest = input.tamper(manifest);
  const manifestUri =
    input.via === "http"
      ? input.manifests.putManifest(input.name ?? contentHash.slice(2, 18), manifest)
      : input.manifests.putIpfs(JSON.stringify(manifest)).uri;
  const registrant = input.registrantKey === undefined ? signerKey : input.registrantKey;
  const registration = registrant === null ? null : await registerContent(input.chain.rpcUrl, registrant, input.registry, contentHash, manifestUri);
  return { contentHash, manifest, manifestUri, registration };
}
