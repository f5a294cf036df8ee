import { connectContentRegistry, deployContentRegistry } from "@veriflow/contracts";
import {
  AbiCoder,
  JsonRpcProvider,
  Wallet,
  hexlify,
  keccak256,
  toBeHex,
  toUtf8Bytes,
  zeroPadBytes,
  type ContractTransactionResponse,
} from "ethers";

/** A mined registry transaction. */
export interface MinedTx {
  txHash: string;
  blockNumber: number;
}

/**
 * Helpers that sign with one dev key against a chain from startChain. Each call opens and closes its
 * own provider; run calls for the same key one after another (the nonce is read per call).
 */

/** Deploys a ContentRegistry; returns its address. */
export async function deployRegistry(rpcUrl: string, privateKey: string): Promise<string> {
  return withWallet(rpcUrl, privateKey, async (wallet) => (await deployContentRegistry(wallet)).address);
}

/** `register(contentHash, manifestURI)` as the key's account. */
export async function registerContent(
  rpcUrl: string,
  privateKey: string,
  registry: string,
  contentHash: string,
  manifestURI: string,
): Promise<MinedTx> {
  return send(rpcUrl, privateKey, registry, (r) => r.getFunction("register")(contentHash, manifestURI));
}

/** `updateManifest(contentHash, manifestURI)` as the key's account (the creator). */
export async function updateManifest(
  rpcUrl: string,
  privateKey: string,
  registry: string,
  contentHash: string,
  manifestURI: string,
): Promise<MinedTx> {
  return send(rpcUrl, privateKey, registry, (r) => r.getFunction("updateManifest")(contentHash, manifestURI));
}

/** `revoke(contentHash)` as the key's account (the creator). */
export async function revokeContent(
  rpcUrl: string,
  privateKey: string,
  registry: string,
  contentHash: string,
): Promise<MinedTx> {
  return send(rpcUrl, privateKey, registry, (r) => r.getFunction("revoke")(contentHash));
}

async function send(
  rpcUrl: string,
  privateKey: string,
  registry: string,
  call: (r: ReturnType<typeof connectContentRegistry>) => Promise<ContractTransactionResponse>,
): Promise<MinedTx> {
  return withWallet(rpcUrl, privateKey, async (wallet) => {
    const tx = await call(connectContentRegistry(registry, wallet));
    const receipt = await tx.wait();
    if (!receipt) throw new Error(`transaction ${tx.hash} was not mined`);
    return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
  });
}

async function withWallet<T>(rpcUrl: string, privateKey: string, fn: (wallet: Wallet) => Promise<T>): Promise<T> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1, pollingInterval: 50 });
  try {
    return await fn(new Wallet(privateKey, provider));
  } finally {
    provider.destroy();
  }
}

/**
 * Hardhat only: writes the `manifestURI` of a registered entry straight into the registry's storage,
 * for URIs no transaction could store (a block's gas limit caps what `register` can write).
 * Storage layout of ContentRegistry: `entries` is slot 0; an Entry is (creator ‖ timestamp, manifestURI).
 */
export async function forceManifestURI(rpcUrl: string, registry: string, contentHash: string, manifestURI: string): Promise<void> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  try {
    const base = BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [contentHash, 0])));
    const slot = base + 1n;
    const bytes = toUtf8Bytes(manifestURI);
    const word = (b: Uint8Array) => zeroPadBytes(b, 32);
    const writes: [bigint, string][] = [];
    if (bytes.length < 32) {
      const short = new Uint8Array(32);
      short.set(bytes);
      short[31] = bytes.length * 2;
      writes.push([slot, hexlify(short)]);
    } else {
      writes.push([slot, toBeHex(BigInt(bytes.length) * 2n + 1n, 32)]);
      const data = BigInt(keccak256(toBeHex(slot, 32)));
      for (let i = 0; i * 32 < bytes.length; i++) writes.push([data + BigInt(i), word(bytes.slice(i * 32, i * 32 + 32))]);
    }
    await Promise.all(writes.map(([s, v]) => provider.send("hardhat_setStorageAt", [registry, toBeHex(s), v])));
  } finally {
    provider.destroy();
  }
}
