import { randomBytes } from "node:crypto";
import { publishContent, type ChainHandle, type ManifestServer } from "@veriflow/testing";

/** A content the bench submits: its bytes, and the manifest that makes it verify. */
export interface Content {
  bytes: Buffer;
  manifestUri: string;
}

/**
 * `count` random contents of 1–256 KiB (or `bytes` apart), each with a signed manifest on the local IPFS route and
 * registered on chain, so every submission runs the whole pipeline to a verdict. Sizes vary so
 * hashing is not measured on one size only.
 */
export async function registerContents(
  chain: ChainHandle,
  registry: string,
  manifests: ManifestServer,
  count: number,
  bytes: { min: number; max: number } = { min: 1024, max: 256 * 1024 },
): Promise<Content[]> {
  const contents: Content[] = [];
  // One at a time: the transactions come from one account, so their nonces must follow each other.
  for (let i = 0; i < count; i++) {
    const content = randomBytes(bytes.min + Math.floor(Math.random() * (bytes.max - bytes.min)));
    const published = await publishContent({
      chain,
      registry,
      manifests,
      content,
      via: "ipfs",
    });
    contents.push({ bytes: content, manifestUri: published.manifestUri });
  }
  return contents;
}
