import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Webhook secrets at rest: AES-256-GCM under WEBHOOK_SECRETS_KEY. A sealed secret reads
 * `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts), bound to what it belongs to
 * (`context`, as additional data: a subscription's id, a tenant), so a sealed value copied to
 * another row does not open. The key id (the first bytes of the key's SHA-256) tells a wrong
 * key from corrupt data.
 */
export interface SecretBox {
  seal(plain: string, context: string): string;
  /** Throws SecretBoxError when the value was sealed under another key or for another context, or was altered. */
  open(sealed: string, context: string): string;
}

export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

export const SECRETS_KEY_BYTES = 32;

const keyIdOf = (key: Buffer) => createHash("sha256").update(key).digest("hex").slice(0, 8);

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== SECRETS_KEY_BYTES) throw new RangeError(`a secrets key is ${SECRETS_KEY_BYTES} bytes, got ${key.length}`);
  const keyId = keyIdOf(key);
  return {
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(context, "utf8"));
      const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return ["v1", keyId, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), data.toString("base64url")].join(".");
    },
    open(sealed, context) {
      const [version, id, iv, tag, data] = sealed.split(".");
      if (version !== "v1" || !id || iv === undefined || tag === undefined || data === undefined) throw new SecretBoxError("not a sealed secret");
      if (id !== keyId) throw new SecretBoxError(`sealed under another WEBHOOK_SECRETS_KEY (key id ${id}; this key's id is ${keyId})`);
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url")).setAAD(Buffer.from(context, "utf8"));
        decipher.setAuthTag(Buffer.from(tag, "base64url"));
        return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
      } catch (cause) {
        throw new SecretBoxError("a sealed secret does not open: altered, or sealed for another row", { cause });
      }
    },
  };
}

/**
 * WEBHOOK_SECRETS_KEY as bytes: 32 bytes written as 64 hex digits or as base64 (standard or
 * url-safe, padding optional), e.g. `openssl rand -base64 32`. Null when it is neither.
 */
export function parseSecretsKey(raw: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, "hex");
  if (!/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(raw)) return null;
  const bytes = Buffer.from(raw.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""), "base64url");
  return bytes.length === SECRETS_KEY_BYTES ? bytes : null;
}

/**
 * Outside production, without WEBHOOK_SECRETS_KEY: a fixed key everyone can read here, so a
 * development database stays readable across restarts (the service warns that it uses it;
 * `npm start` makes a real one). Production requires the variable.
 */
export const DEVELOPMENT_SECRETS_KEY = createHash("sha256").update("veriflow development webhook secrets key (not secret)").digest();
