import { forceManifestURI, startChain, type ChainHandle } from "@veriflow/testing";
import { Contract, JsonRpcProvider, Wallet, ZeroAddress, id, keccak256, solidityPacked, type Log } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectContentRegistry,
  contentRegistryInterface,
  decodeEntriesBatchRead,
  decodeEntry,
  deployContentRegistry,
  encodeEntriesBatchRead,
} from "./index.js";

let chain: ChainHandle;
let provider: JsonRpcProvider;
let alice: Wallet;
let bob: Wallet;
let registry: Contract; // connected as alice
let asBob: Contract;

const hash = (n: number) => "0x" + n.toString(16).padStart(64, "0");

beforeAll(async () => {
  chain = await startChain();
  provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1, pollingInterval: 50 });
  alice = new Wallet(chain.accounts[0]!.privateKey, provider);
  bob = new Wallet(chain.accounts[1]!.privateKey, provider);
  registry = (await deployContentRegistry(alice)).contract;
  asBob = connectContentRegistry(await registry.getAddress(), bob);
});

afterAll(async () => {
  provider?.destroy();
  await chain?.stop();
});

/** Sends a transaction, waits for it; returns the receipt's logs decoded with the registry ABI. */
async function mined(tx: Promise<{ wait(): Promise<{ logs: readonly Log[]; blockNumber: number } | null> }>) {
  const receipt = (await (await tx).wait())!;
  const block = (await provider.getBlock(receipt.blockNumber))!;
  return { events: receipt.logs.map((l) => contentRegistryInterface.parseLog(l)!), timestamp: block.timestamp };
}

/** The registry's custom error a transaction reverts with (ethers leaves revert data undecoded at estimateGas). */
async function revertName(tx: Promise<unknown>): Promise<string | undefined> {
  try {
    await tx;
  } catch (err) {
    const data = (err as { code?: string; data?: string }).data;
    if ((err as { code?: string }).code !== "CALL_EXCEPTION" || !data) throw err;
    return contentRegistryInterface.parseError(data)?.name;
  }
  throw new Error("expected a revert");
}

describe("ContentRegistry", () => {
  it("registers a hash once, emitting ContentRegistered", async () => {
    const { events, timestamp } = await mined(registry.getFunction("register")(hash(1), "ipfs://one"));
    expect(events.map((e) => e.name)).toEqual(["ContentRegistered"]);
    expect(events[0]!.args.toObject()).toEqual({
      contentHash: hash(1),
      creator: alice.address,
      manifestURI: "ipfs://one",
      timestamp: BigInt(timestamp),
    });
    expect(await revertName(registry.getFunction("register")(hash(1), "ipfs://again"))).toBe("AlreadyRegistered");
    expect(await revertName(asBob.getFunction("register")(hash(1), "ipfs://mine"))).toBe("AlreadyRegistered");
  });

  it("rejects an empty URI (it would read as revoked) and the zero hash", async () => {
    expect(await revertName(registry.getFunction("register")(hash(2), ""))).toBe("EmptyManifestURI");
    expect(await revertName(registry.getFunction("register")(hash(0), "ipfs://zero"))).toBe("ZeroContentHash");
  });

  it("entries() decodes as (creator, timestamp, manifestURI)", async () => {
    const { timestamp } = await mined(asBob.getFunction("register")(hash(3), "https://example.org/m.json"));
    const data = await provider.call({
      to: await registry.getAddress(),
      data: contentRegistryInterface.encodeFunctionData("entries", [hash(3)]),
    });
    expect(decodeEntry(data)).toEqual({ creator: bob.address, timestamp, manifestURI: "https://example.org/m.json" });
    const r = await registry.getFunction("entries")(hash(3));
    expect([r.creator, r.timestamp, r.manifestURI]).toEqual([bob.address, BigInt(timestamp), "https://example.org/m.json"]);
    const unregistered = await provider.call({
      to: await registry.getAddress(),
      data: contentRegistryInterface.encodeFunctionData("entries", [hash(99)]),
    });
    expect(decodeEntry(unregistered)).toEqual({ creator: ZeroAddress, timestamp: 0, manifestURI: "" });
  });

  it("lets only the creator update the manifest, emitting ManifestUpdated", async () => {
    await mined(registry.getFunction("register")(hash(4), "ipfs://v1"));
    expect(await revertName(asBob.getFunction("updateManifest")(hash(4), "ipfs://evil"))).toBe("NotCreator");
    expect(await revertName(registry.getFunction("updateManifest")(hash(5), "ipfs://none"))).toBe("NotRegistered");
    expect(await revertName(registry.getFunction("updateManifest")(hash(4), ""))).toBe("EmptyManifestURI");
    const { events, timestamp } = await mined(registry.getFunction("updateManifest")(hash(4), "ipfs://v2"));
    expect(events.map((e) => [e.name, e.args.toObject()])).toEqual([
      ["ManifestUpdated", { contentHash: hash(4), manifestURI: "ipfs://v2", timestamp: BigInt(timestamp) }],
    ]);
    expect((await registry.getFunction("entries")(hash(4))).manifestURI).toBe("ipfs://v2");
  });

  it("lets only the creator revoke, keeping creator and timestamp, emitting EntryRevoked", async () => {
    const reg = await mined(registry.getFunction("register")(hash(6), "ipfs://six"));
    expect(await revertName(asBob.getFunction("revoke")(hash(6)))).toBe("NotCreator");
    const { events, timestamp } = await mined(registry.getFunction("revoke")(hash(6)));
    expect(events.map((e) => [e.name, e.args.toObject()])).toEqual([
      ["EntryRevoked", { contentHash: hash(6), timestamp: BigInt(timestamp) }],
    ]);
    const e = await registry.getFunction("entries")(hash(6));
    expect([e.creator, e.timestamp, e.manifestURI]).toEqual([alice.address, BigInt(reg.timestamp), ""]);
  });

  it("binds a platform id once (creator only) and resolves it, emitting PlatformBound", async () => {
    const reg = await mined(registry.getFunction("register")(hash(7), "ipfs://seven"));
    expect(await revertName(asBob.getFunction("bindPlatform")(hash(7), "youtube", "abc"))).toBe("NotCreator");
    const { events } = await mined(registry.getFunction("bindPlatform")(hash(7), "youtube", "abc"));
    expect(events).toHaveLength(1);
    expect(events[0]!.name).toBe("PlatformBound");
    // `platform` is an indexed string: the log carries its keccak256, not the text.
    expect(events[0]!.args.contentHash).toBe(hash(7));
    expect(events[0]!.args.platform.hash).toBe(id("youtube"));
    expect(events[0]!.args.platformId).toBe("abc");
    expect(await revertName(registry.getFunction("bindPlatform")(hash(4), "youtube", "abc"))).toBe("PlatformAlreadyBound");

    const r = await registry.getFunction("resolveByPlatform")("youtube", "abc");
    expect(r.toObject()).toEqual({
      creator: alice.address,
      contentHash: hash(7),
      manifestURI: "ipfs://seven",
      timestamp: BigInt(reg.timestamp),
    });
    // The key is keccak256(platform ":" platformId): "you" + "tube:abc" is another key.
    expect(keccak256(solidityPacked(["string", "string", "string"], ["youtube", ":", "abc"]))).not.toBe(
      keccak256(solidityPacked(["string", "string", "string"], ["you", ":", "tubeabc"])),
    );
    const none = await registry.getFunction("resolveByPlatform")("youtube", "nope");
    expect(none.toObject()).toEqual({ creator: ZeroAddress, contentHash: hash(0), manifestURI: "", timestamp: 0n });
  });
});

describe("EntriesBatchReader (deployless)", () => {
  const read = async (registryAddress: string, hashes: string[]) =>
    decodeEntriesBatchRead(await provider.call({ data: encodeEntriesBatchRead(registryAddress, hashes) }));

  it("reads many entries in one eth_call without deploying anything", async () => {
    const address = await registry.getAddress();
    const nonceBefore = await provider.getTransactionCount(alice.address);
    const blockBefore = await provider.getBlockNumber();
    const result = await read(address, [hash(1), hash(3), hash(6), hash(99)]);
    expect(result.registryIsContract).toBe(true);
    expect(result.entries.map((e) => [e.creator, e.manifestURI])).toEqual([
      [alice.address, "ipfs://one"],
      [bob.address, "https://example.org/m.json"],
      [alice.address, ""],
      [ZeroAddress, ""],
    ]);
    expect(result.entries[0]!.timestamp).toBeGreaterThan(0);
    expect(result.entries[3]!.timestamp).toBe(0);
    expect(await provider.getBlockNumber()).toBe(blockBefore);
    expect(await provider.getTransactionCount(alice.address)).toBe(nonceBefore);
  });

  it("says so when the registry has no code", async () => {
    expect(await read(bob.address, [hash(1)])).toEqual({ registryIsContract: false, entries: [] });
  });

  it("returns a prefix when the output would pass the 24576-byte limit, and nothing for a too-large entry", async () => {
    const long = "https://example.org/" + "x".repeat(8000);
    await mined(registry.getFunction("register")(hash(10), long));
    await mined(registry.getFunction("register")(hash(11), long));
    await mined(registry.getFunction("register")(hash(12), long));
    // No transaction can store a URI that large (Osaka caps a transaction at 2^24 gas): write it to storage.
    const huge = "https://example.org/" + "y".repeat(30_000);
    await mined(registry.getFunction("register")(hash(13), "ipfs://small"));
    await forceManifestURI(chain.rpcUrl, await registry.getAddress(), hash(13), huge);
    expect((await registry.getFunction("entries")(hash(13))).manifestURI).toBe(huge);
    const address = await registry.getAddress();
    const prefix = await read(address, [hash(10), hash(11), hash(12), hash(1)]);
    expect(prefix.entries.map((e) => e.manifestURI)).toEqual([long, long]);
    expect((await read(address, [hash(13), hash(1)])).entries).toEqual([]);
  });
});
