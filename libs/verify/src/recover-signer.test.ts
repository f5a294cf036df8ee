import { randomBytes } from "node:crypto";
import { getBytes, hexlify, Signature, verifyMessage, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { recoverSigner } from "./recover-signer.js";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const hex32 = (n: bigint) => n.toString(16).padStart(64, "0");
const randomHash = () => hexlify(randomBytes(32));

/** What DOMAIN.md calls recovery: ethers' verifyMessage over the raw hash bytes, null when it throws. */
function ethersRecover(hash: string, sig: string): string | null {
  try {
    return verifyMessage(getBytes(hash), sig);
  } catch {
    return null;
  }
}

/** Signature variants that exercise every acceptance rule. */
function variants(sig: string): string[] {
  const s = Signature.from(sig);
  const r = s.r.slice(2);
  const sHex = s.s.slice(2);
  const v = s.v; // 27 or 28
  const vByte = (x: number) => x.toString(16).padStart(2, "0");
  const highS = hex32(N - BigInt(s.s));
  const flipped = v === 27 ? 28 : 27;
  return [
    sig,
    `0x${r}${sHex}${vByte(v - 27)}`, // v as 0/1
    `0x${r}${sHex}${vByte(flipped)}`, // wrong recovery id: another address
    `0x${r}${highS}${vByte(flipped)}`, // malleated high-s twin
    `0x${r}${sHex}${vByte(37 + (v - 27))}`, // EIP-155 style v
    `0x${r}${sHex}${vByte(38)}`,
    `0x${r}${sHex}${vByte(29)}`, // invalid v
    `0x${r}${sHex}${vByte(2)}`,
    `0x${r}${sHex}${vByte(255)}`,
    s.compactSerialized, // EIP-2098, 64 bytes
    sig.toUpperCase().replace("0X", "0x"),
    sig.slice(0, -2), // 64 bytes that are not a compact signature of this message
    sig.slice(0, -1), // odd length
    sig.slice(2), // no 0x
    sig + "00", // 66 bytes
    `0x${"00".repeat(32)}${sHex}${vByte(v)}`, // r = 0
    `0x${r}${"00".repeat(32)}${vByte(v)}`, // s = 0
    `0x${hex32(N)}${sHex}${vByte(v)}`, // r = n
    `0x${r}${hex32(N - 1n)}${vByte(v)}`, // s = n-1 (top bit set)
    `0x${r}${hex32((N >> 1n) + 1n)}${vByte(v)}`, // s just above n/2, top bit clear: ethers accepts
    hexlify(randomBytes(65)),
    "0x",
    "",
  ];
}

describe("recoverSigner", () => {
  it("agrees with ethers verifyMessage on 250 random keys and every signature variant", () => {
    let compared = 0;
    let recovered = 0;
    for (let i = 0; i < 250; i++) {
      const wallet = new Wallet(hexlify(randomBytes(32)));
      const hash = randomHash();
      const sig = wallet.signMessageSync(getBytes(hash));
      expect(recoverSigner(hash, sig)).toBe(wallet.address);
      for (const variant of variants(sig)) {
        const expected = ethersRecover(hash, variant);
        expect({ variant, got: recoverSigner(hash, variant) }).toEqual({ variant, got: expected });
        compared++;
        if (expected !== null) recovered++;
      }
    }
    expect(compared).toBe(250 * 23);
    expect(recovered).toBeGreaterThan(250 * 5); // the test compares real recoveries, not only nulls
  });

  it("accepts v = 0/1 and 27/28 alike and rejects high-s twins and bad v", () => {
    const wallet = new Wallet("0x" + "42".repeat(32));
    const hash = randomHash();
    const sig = Signature.from(wallet.signMessageSync(getBytes(hash)));
    const raw = (v: number, s = sig.s.slice(2)) => `${sig.r}${s}${v.toString(16).padStart(2, "0")}`;
    expect(recoverSigner(hash, raw(sig.v))).toBe(wallet.address);
    expect(recoverSigner(hash, raw(sig.v - 27))).toBe(wallet.address);
    expect(recoverSigner(hash, raw(sig.v === 27 ? 28 : 27))).not.toBe(wallet.address);
    expect(recoverSigner(hash, raw(sig.v === 27 ? 28 : 27, hex32(N - BigInt(sig.s))))).toBeNull();
    expect(recoverSigner(hash, raw(30))).toBeNull();
  });

  it("recovers someone else for another hash (only content_hash is signed)", () => {
    const wallet = new Wallet("0x" + "43".repeat(32));
    const sig = wallet.signMessageSync(getBytes(randomHash()));
    expect(recoverSigner(randomHash(), sig)).not.toBe(wallet.address);
  });

  it("rejects random 65-byte strings like ethers", () => {
    for (let i = 0; i < 500; i++) {
      const hash = randomHash();
      const sig = hexlify(randomBytes(65));
      expect(recoverSigner(hash, sig)).toBe(ethersRecover(hash, sig));
    }
  });
});
