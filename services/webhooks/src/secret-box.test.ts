import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEVELOPMENT_SECRETS_KEY, createSecretBox, parseSecretsKey } from "./secret-box.js";

describe("createSecretBox: webhook secrets at rest", () => {
  const key = randomBytes(32);
  const box = createSecretBox(key);

  it("seals to text that does not contain the secret, and opens it again", () => {
    const secret = "whsec_" + randomBytes(32).toString("base64");
    const sealed = box.seal(secret, "subscription:1");
    expect(sealed).toMatch(/^v1\.[0-9a-f]{8}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain(secret.slice(6, 20));
    expect(box.seal(secret, "subscription:1")).not.toBe(sealed); // a fresh IV each time
    expect(box.open(sealed, "subscription:1")).toBe(secret);
  });

  it("refuses another key, another row's context and altered bytes, saying which", () => {
    const sealed = box.seal("s3cret", "tenant:acme");
    expect(() => createSecretBox(randomBytes(32)).open(sealed, "tenant:acme")).toThrow(/sealed under another WEBHOOK_SECRETS_KEY/);
    expect(() => box.open(sealed, "tenant:globex")).toThrow(/does not open/);
    const parts = sealed.split(".");
    parts[4] = Buffer.from("tampered").toString("base64url");
    expect(() => box.open(parts.join("."), "tenant:acme")).toThrow(/does not open/);
    expect(() => box.open("whsec_clear", "tenant:acme")).toThrow(/not a sealed secret/);
  });
});

describe("parseSecretsKey: WEBHOOK_SECRETS_KEY", () => {
  it("takes 32 bytes as hex or base64 (either alphabet, padding optional)", () => {
    const key = randomBytes(32);
    for (const raw of [key.toString("hex"), key.toString("base64"), key.toString("base64url"), key.toString("base64").replace(/=$/, "")]) {
      expect(parseSecretsKey(raw), raw).toEqual(key);
    }
  });

  it("refuses anything else", () => {
    for (const raw of ["", "short", randomBytes(16).toString("hex"), randomBytes(31).toString("base64"), randomBytes(33).toString("base64"), "z".repeat(64)]) {
      expect(parseSecretsKey(raw), raw).toBeNull();
    }
    expect(DEVELOPMENT_SECRETS_KEY).toHaveLength(32);
  });
});
