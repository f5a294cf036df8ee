import type { OnchainEntry } from "@veriflow/events";
import { PermanentError, TransientError } from "@veriflow/errors";
import {
  deployRegistry,
  findFreePort,
  forceManifestURI,
  RecordingProvider,
  registerContent,
  revokeContent,
  startChain,
  updateManifest,
  type ChainHandle,
  type MinedTx,
} from "@veriflow/testing";
import { ZeroAddress } from "ethers";
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRegistration } from "./find-registration.js";
import { createRegistryReader } from "./registry-reader.js";
import { createRpcProvider } from "./rpc.js";

const hash = (n: number) => "0x" + n.toString(16).padStart(64, "0");
const REGISTERED = 1; // hashes 1..120
const UPDATED = 200; // 200..239
const REVOKED = 300; // 300..339
const UNREGISTERED = 900; // 900..999, never registered

let chain: ChainHandle;
let registry: string;
let other: string; // a second registry, with hash(1) only
let alice: { address: string; privateKey: string };
let bob: { address: string; privateKey: string };
const registrations = new Map<string, MinedTx>();

/** What entries(h) must say, from how the fixture registered it. */
function expected(h: number): Pick<OnchainEntry, "manifestURI" | "revoked"> & { creator: string } {
  if (h >= UNREGISTERED) return { creator: ZeroAddress, manifestURI: "", revoked: false };
  if (h >= REVOKED) return { creator: alice.address, manifestURI: "", revoked: true };
  if (h >= UPDATED) return { creator: bob.address, manifestURI: `ipfs://v2/${h}`, revoked: false };
  return { creator: h % 2 ? alice.address : bob.address, manifestURI: `ipfs://v1/${h}`, revoked: false };
}

beforeAll(async () => {
  chain = await startChain();
  [alice, bob] = [chain.accounts[0]!, chain.accounts[1]!];
  registry = await deployRegistry(chain.rpcUrl, alice.privateKey);
  other = await deployRegistry(chain.rpcUrl, bob.privateKey);
  const reg = async (key: string, h: number, uri: string) =>
    registrations.set(hash(h), await registerContent(chain.rpcUrl, key, registry, hash(h), uri));
  // Two signers in parallel, each one transaction after another (automine: a block per transaction).
  await Promise.all([
    (async () => {
      for (let h = REGISTERED; h < REGISTERED + 120; h += 2) await reg(alice.privateKey, h, `ipfs://v1/${h}`);
      for (let h = REVOKED; h < REVOKED + 40; h++) {
        await reg(alice.privateKey, h, `ipfs://v1/${h}`);
        await revokeContent(chain.rpcUrl, alice.privateKey, registry, hash(h));
      }
    })(),
    (async () => {
      for (let h = REGISTERED + 1; h < REGISTERED + 120; h += 2) await reg(bob.privateKey, h, `ipfs://v1/${h}`);
      for (let h = UPDATED; h < UPDATED + 40; h++) {
        await reg(bob.privateKey, h, `ipfs://v1/${h}`);
        await updateManifest(chain.rpcUrl, bob.privateKey, registry, hash(h), `ipfs://v2/${h}`);
      }
      await registerContent(chain.rpcUrl, bob.privateKey, other, hash(1), "ipfs://other/1");
    })(),
  ]);
}, 120_000);

afterAll(async () => {
  await chain?.stop();
});

const sample = [
  ...Array.from({ length: 120 }, (_, i) => REGISTERED + i),
  ...Array.from({ length: 40 }, (_, i) => UPDATED + i),
  ...Array.from({ length: 40 }, (_, i) => REVOKED + i),
  ...Array.from({ length: 100 }, (_, i) => UNREGISTERED + i),
];

describe("createRegistryReader", () => {
  it("answers 300 concurrent reads right with a handful of eth_calls", async () => {
    const provider = new RecordingProvider(chain.rpcUrl);
    const reader = createRegistryReader({ provider, maxBatch: 100, maxInFlight: 4 });
    const results = await Promise.all(sample.map((h) => reader.readEntry(registry, hash(h))));
    results.forEach((entry, i) => {
      const h = sample[i]!;
      expect(entry, `hash ${h}`).toMatchObject(expected(h));
      expect(entry.timestamp > 0, `timestamp of ${h}`).toBe(h < UNREGISTERED);
    });
    expect(reader.stats()).toEqual({ reads: 300, hits: 0, ethCalls: 3 });
    expect(provider.count("eth_call")).toBe(3); // 300 reads asked in one tick: 3 batches of 100
    await reader.close();
    provider.destroy();
  });

  it("batches reads that arrive one by one, and reads each hash once while the block stands", async () => {
    const provider = new RecordingProvider(chain.rpcUrl);
    const reader = createRegistryReader({ provider, maxBatch: 100, maxInFlight: 2 });
    const pending: Promise<OnchainEntry>[] = [];
    for (let i = 0; i < 1000; i++) {
      const h = sample[i % sample.length]!;
      pending.push(reader.readEntry(registry, hash(h)).then((e) => (expect(e).toMatchObject(expected(h)), e)));
      await new Promise((r) => setImmediate(r)); // one read per event-loop turn
    }
    await Promise.all(pending);
    // 300 distinct hashes, 1000 reads, no transaction meanwhile: one block, each hash read once,
    // in batches of what arrived within a window.
    expect(reader.stats()).toMatchObject({ reads: 1000, hits: 700 });
    expect(provider.count("eth_call")).toBeLessThan(300 / 5);
    await reader.close();
    provider.destroy();
  });

  it("batches per registry, and reads the same hash once per batch", async () => {
    const provider = new RecordingProvider(chain.rpcUrl);
    const reader = createRegistryReader({ provider });
    const [a, b, a2] = await Promise.all([
      reader.readEntry(registry, hash(1)),
      reader.readEntry(other.toLowerCase(), hash(1)),
      reader.readEntry(registry.toUpperCase().replace("0X", "0x"), hash(1).toUpperCase().replace("0X", "0x")),
    ]);
    expect(a.manifestURI).toBe("ipfs://v1/1");
    expect(a2).toEqual(a);
    expect(b).toMatchObject({ creator: bob.address, manifestURI: "ipfs://other/1", revoked: false });
    expect(provider.count("eth_call")).toBe(2);
    await reader.close();
    provider.destroy();
  });

  it("splits a batch whose output passes the 24576-byte limit, answering every read in order", async () => {
    const long = (h: number) => `https://example.org/${h}/` + "l".repeat(1500);
    for (let h = 3000; h < 3040; h++) await registerContent(chain.rpcUrl, bob.privateKey, registry, hash(h), long(h));
    const provider = new RecordingProvider(chain.rpcUrl);
    const reader = createRegistryReader({ provider, maxBatch: 100 });
    // Interleaved: 40 entries of ~1.7 kB and 60 unregistered ones (160 B) in one batch of 100.
    const asked = Array.from({ length: 100 }, (_, i) => (i % 5 < 2 ? 3000 + Math.floor(i / 5) * 2 + (i % 5) : 8000 + i));
    const results = await Promise.all(asked.map((h) => reader.readEntry(registry, hash(h))));
    results.forEach((e, i) => {
      const h = asked[i]!;
      expect(e.manifestURI, `hash ${h}`).toBe(h < 8000 ? long(h) : "");
    });
    // ≈ 76 kB of output: at least 4 calls, and no more than the limit forces.
    expect(provider.count("eth_call")).toBeGreaterThanOrEqual(4);
    expect(provider.count("eth_call")).toBeLessThanOrEqual(5);
    await reader.close();
    provider.destroy();
  });

  it("reads an entry too large for a batch's output on its own", async () => {
    const huge = "https://example.org/" + "z".repeat(25_000);
    await registerContent(chain.rpcUrl, alice.privateKey, registry, hash(5000), "ipfs://small");
    await forceManifestURI(chain.rpcUrl, registry, hash(5000), huge);
    const reader = createRegistryReader({ rpcUrl: chain.rpcUrl, chainId: chain.chainId });
    const [before, big, after] = await Promise.all([1, 5000, 2].map((h) => reader.readEntry(registry, hash(h))));
    expect([before!.manifestURI, big!.manifestURI, after!.manifestURI]).toEqual(["ipfs://v1/1", huge, "ipfs://v1/2"]);
    // [1, 5000, 2] → [1] (5000 does not fit after it); [5000, 2] → [] (too large alone);
    // entries(5000) directly; [2] → [2].
    expect(reader.stats().ethCalls).toBe(4);
    await reader.close();
  });

  it("throws PermanentError E_REGISTRY_NOT_CONTRACT for an address without code", async () => {
    const reader = createRegistryReader({ rpcUrl: chain.rpcUrl, chainId: chain.chainId });
    const err = await reader.readEntry(bob.address, hash(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).toMatchObject({ code: "E_REGISTRY_NOT_CONTRACT" });
    await reader.close();
  });

  it("throws PermanentError E_REGISTRY_INCOMPATIBLE for a contract that is not a registry", async () => {
    const provider = createRpcProvider(chain.rpcUrl, { chainId: chain.chainId });
    const reverts = "0x00000000000000000000000000000000000000e1";
    const silent = "0x00000000000000000000000000000000000000e2";
    await provider.send("hardhat_setCode", [reverts, "0x60006000fd"]); // revert(0, 0)
    await provider.send("hardhat_setCode", [silent, "0x00"]); // stop: returns nothing
    const reader = createRegistryReader({ provider });
    for (const address of [reverts, silent]) {
      const err = await reader.readEntry(address, hash(1)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentError);
      expect(err).toMatchObject({ code: "E_REGISTRY_INCOMPATIBLE" });
    }
    await reader.close();
    provider.destroy();
  });

  it("throws PermanentError E_INVALID_ARGUMENT for malformed input", async () => {
    const reader = createRegistryReader({ rpcUrl: chain.rpcUrl, chainId: chain.chainId });
    await expect(reader.readEntry("0x1234", hash(1))).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT" });
    await expect(reader.readEntry(registry, "0xabc")).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT" });
    await reader.close();
  });

  it("throws TransientError E_RPC_UNAVAILABLE when nothing listens at the RPC URL", async () => {
    const port = await findFreePort();
    const reader = createRegistryReader({ rpcUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    const errors = await Promise.all([1, 2, 3].map((h) => reader.readEntry(registry, hash(h)).catch((e: unknown) => e)));
    for (const err of errors) {
      expect(err).toBeInstanceOf(TransientError);
      expect(err).toMatchObject({ code: "E_RPC_UNAVAILABLE" });
    }
    await reader.close();
  });

  it("throws TransientError E_RPC_UNAVAILABLE when the node does not answer in time", async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const reader = createRegistryReader({ rpcUrl: `http://127.0.0.1:${port}`, timeoutMs: 300 });
    const started = Date.now();
    const err = await reader.readEntry(registry, hash(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(err).toMatchObject({ code: "E_RPC_UNAVAILABLE" });
    expect(Date.now() - started).toBeLessThan(3000);
    await reader.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });
});

describe("findRegistration", () => {
  it("finds the ContentRegistered log of a hash: tx, block, log index", async () => {
    const provider = createRpcProvider(chain.rpcUrl, { chainId: chain.chainId });
    for (const h of [1, 2, 200, 300]) {
      const tx = registrations.get(hash(h))!;
      const found = await findRegistration(provider, registry, hash(h), { chunk: 7 });
      expect(found).toMatchObject({ txHash: tx.txHash, blockNumber: tx.blockNumber, logIndex: 0 });
      expect(found!.blockHash).toBe((await provider.getBlock(tx.blockNumber))!.hash);
    }
    provider.destroy();
  });

  it("returns null for an unregistered hash, and outside the searched range", async () => {
    const provider = createRpcProvider(chain.rpcUrl, { chainId: chain.chainId });
    expect(await findRegistration(provider, registry, hash(UNREGISTERED))).toBeNull();
    // hash(1) of `other` is a different registry's log.
    const inOther = await findRegistration(provider, other, hash(1));
    expect(inOther?.txHash).not.toBe(registrations.get(hash(1))!.txHash);
    const { blockNumber } = registrations.get(hash(1))!;
    expect(await findRegistration(provider, registry, hash(1), { fromBlock: blockNumber + 1 })).toBeNull();
    const latest = await provider.getBlockNumber();
    expect(await findRegistration(provider, registry, hash(1), { maxRange: latest - blockNumber })).toBeNull();
    expect(await findRegistration(provider, registry, hash(1), { maxRange: latest - blockNumber + 1, chunk: 3 })).not.toBeNull();
    provider.destroy();
  });

  it("throws TransientError E_RPC_UNAVAILABLE when the RPC is down", async () => {
    const provider = createRpcProvider(`http://127.0.0.1:${await findFreePort()}`, { timeoutMs: 2000 });
    await expect(findRegistration(provider, registry, hash(1))).rejects.toMatchObject({ code: "E_RPC_UNAVAILABLE" });
    provider.destroy();
  });
});
