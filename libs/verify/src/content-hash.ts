import { createHash } from "node:crypto";
import { CONTENT_HASH_PATTERN } from "@veriflow/events";

/**
 * The content hash of DOMAIN.md: "0x" + lowercase hex of SHA-256 over the raw bytes.
 * It is the bytes32 key of the on-chain registry.
 */
export function contentHashOf(bytes: Uint8Array): string {
  return "0x" + createHash("sha256").update(bytes).digest("hex");
}

export interface ContentHasher {
  update(chunk: Uint8Array): ContentHasher;
  /** The content hash of everything fed so far; the hasher is finished afterwards. */
  digest(): string;
}

/** An incremental hasher for streams: `update` each chunk, then `digest` once. */
export function createContentHasher(): ContentHasher {
  const hash = createHash("sha256");
  const hasher: ContentHasher = {
    update(chunk) {
      hash.update(chunk);
      return hasher;
    },
    digest() {
      return "0x" + hash.digest("hex");
    },
  };
  return hasher;
}

/** True for a 0x-prefixed 32-byte hex string, in any letter case. */
export function isContentHash(value: string): boolean {
  return CONTENT_HASH_PATTERN.test(value);
}

/** Lower-cases a content hash; throws a TypeError for anything that is not one. */
export function normalizeHash(hash: string): string {
  if (!CONTENT_HASH_PATTERN.test(hash)) throw new TypeError(`not a content hash (0x + 64 hex characters): ${JSON.stringify(hash)}`);
  return hash.toLowerCase();
}

/** Compares two content hashes case-insensitively (false when either is not a hash). */
export function sameHash(a: string, b: string): boolean {
  return CONTENT_HASH_PATTERN.test(a) && CONTENT_HASH_PATTERN.test(b) && a.toLowerCase() === b.toLowerCase();
}
