import { createHash, randomBytes } from "node:crypto";

/**
 * The form of the keys this system issues: `vfk_` and 32 random bytes in base64url (256 bits,
 * so a plain SHA-256 stores them safely: nothing to brute-force). A key is shown once, when it
 * is created; the table keeps its SHA-256 and its first characters (the prefix), which are not
 * secret and tell keys apart in lists and logs. Bootstrap keys (API_KEYS) may have any form.
 */
const ISSUED_PREFIX = "vfk_";
export const ISSUED_KEY_PATTERN = /^vfk_[A-Za-z0-9_-]{43}$/;
/** How many leading characters of a key are shown: `vfk_` and 8 of its random characters. */
const SHOWN_LENGTH = 12;

export interface NewApiKey {
  key: string;
  prefix: string;
  hash: Buffer;
}

export function newApiKey(): NewApiKey {
  const key = ISSUED_PREFIX + randomBytes(32).toString("base64url");
  return { key, prefix: keyPrefixOf(key), hash: hashApiKey(key) };
}

export function hashApiKey(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}

export function keyPrefixOf(key: string): string {
  return key.slice(0, SHOWN_LENGTH);
}
