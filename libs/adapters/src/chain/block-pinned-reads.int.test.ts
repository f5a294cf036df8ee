import { contentRegistryInterface } from "@veriflow/contracts";
import { PermanentError, TransientError } from "@veriflow/errors";
import {
  deployRegistry,
  RecordingProvider,
  registerContent,
  revokeContent,
  startChain,
  type ChainHandle,
  type RecordedCall,
} from "@veriflow/testing";
import { toQuantity } from "ethers";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBlockClock, createRpcBlockClock } from "./block-clock.js";
import { createChainEndpoints } from "./chain-access.js";
import { chainReadCache, chainRpcRequests } from "./chain-metrics.js";
import { createRegistryReader } from "./registry-reader.js";

// Reads pinned to the block clock, cached by (registry, hash, block), coalesced in a window:
// every count here is of the JSON-RPC calls a real hardhat node received.

const hash = (n: number) => "0x" + n.toString(16).padStart(64, "0");
const entriesSelector = contentRegistryInterface.getFunction("entries")!.selector;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let chain: ChainHandle;
let registry: string;
let alice: { address: string; privateKey: string };

beforeAll(async () => {
  chain = await startChain();
  alice = chain.accounts[0]!;
  registry = await deployRegistry(chain.rpcUrl, alice.privateKey);
  for (let h = 1; h <= 10; h++) await registerContent(chain.rpcUrl, alice.privateKey, registry, hash(h), `ipfs://v1/${h}`);
}, 120_000);

afterAll(async () => {
  await chain?.stop();
});

/** A reader on its own recording provider; `clock` or `blockMaxAgeMs` as the test needs. */
function readerWith(opts: Omit<Parameters<typeof createRegistryReader>[0], "provider"> = {}) {
  const provider = new RecordingProvider(chain.rpcUrl);
  const reader = createRegistryReader({ provider, ...opts });
  return {
    provider,
    reader,
    close: async () => {
      await reader.close();
      provider.destroy();
    },
  };
}

const ethCalls = (p: RecordingProvider): RecordedCall[] => p.calls.filter((c) => c.method === "eth_call");

describe("reads pinned to a block", () => {
  it("answers many reads of one hash within a block with one eth_call and one eth_blockNumber", async () => {
    const { provider, reader, close } = readerWith({ blockMaxAgeMs: 60_000 });
    const burst = await Promise.all(Array.from({ length: 50 }, () => reader.readEntry(registry, hash(1))));
    const later: unknown[] = [];
    for (let i = 0; i < 50; i++) later.push(await reader.readEntry(registry, hash(1).toUpperCase().replace("0X", "0x")));
    for (const e of [...burst, ...later]) expect(e).toMatchObject({ creator: alice.address, manifestURI: "ipfs://v1/1", revoked: false });
    expect(provider.count("eth_call")).toBe(1);
    expect(provider.count("eth_blockNumber")).toBe(1);
    expect(reader.stats()).toEqual({ reads: 100, hits: 99, ethCalls: 1 });
    await close();
  });

  it("sees a registration or a revocation once the clock reads its block, and not before", async () => {
    let t = 0;
    const provider = new RecordingProvider(chain.rpcUrl);
    const clock = createBlockClock(async () => Number(BigInt((await provider.send("eth_blockNumber", [])) as string)), { maxAgeMs: 1000, now: () => t });
    const reader = createRegistryReader({ provider, clock });
    const before = await provider.getBlockNumber();
    expect(await reader.readEntry(registry, hash(100))).toMatchObject({ timestamp: 0, blockNumber: before });

    const registered = await registerContent(chain.rpcUrl, alice.privateKey, registry, hash(100), "ipfs://v1/100");
    t = 999; // the clock's block is the one read before: same key, the answer kept
    expect(await reader.readEntry(registry, hash(100))).toMatchObject({ timestamp: 0, blockNumber: before });
    expect(provider.count("eth_call")).toBe(1);

    t = 1000; // max age: the clock asks again, the read is a new key at the new block
    expect(await reader.readEntry(registry, hash(100))).toMatchObject({
      creator: alice.address,
      manifestURI: "ipfs://v1/100",
      revoked: false,
      blockNumber: registered.blockNumber,
    });

    const revoked = await revokeContent(chain.rpcUrl, alice.privateKey, registry, hash(100));
    t = 2000;
    expect(await reader.readEntry(registry, hash(100))).toMatchObject({ manifestURI: "", revoked: true, blockNumber: revoked.blockNumber });
    expect(provider.count("eth_blockNumber")).toBe(1 + 3); // the test's own, then the clock's at t = 0, 1000, 2000
    expect(provider.count("eth_call")).toBe(3);
    await reader.close();
    provider.destroy();
  });

  it("sees a new block on the real clock once the max age has passed", async () => {
    const { reader, close } = readerWith({ blockMaxAgeMs: 200 });
    expect(await reader.readEntry(registry, hash(101))).toMatchObject({ timestamp: 0 });
    await registerContent(chain.rpcUrl, alice.privateKey, registry, hash(101), "ipfs://v1/101");
    await sleep(200);
    expect(await reader.readEntry(registry, hash(101))).toMatchObject({ manifestURI: "ipfs://v1/101", revoked: false });
    await close();
  });

  it("reads every hash of a batch at one explicit block number, never 'latest'", async () => {
    const { provider, reader, close } = readerWith();
    await Promise.all([1, 2, 3].map((h) => reader.readEntry(registry, hash(h))));
    await reader.readEntry(registry, hash(4));
    const block = toQuantity(await provider.getBlockNumber());
    expect(ethCalls(provider).map((c) => c.params[1])).toEqual([block, block]);
    await close();
  });
});

describe("coalescing and the call's shape", () => {
  it("sends the distinct hashes read within one window as one batched call", async () => {
    const { provider, reader, close } = readerWith({ windowMs: 100 });
    const reads: Promise<unknown>[] = [];
    for (let h = 1; h <= 20; h++) {
      reads.push(reader.readEntry(registry, hash(h)));
      await new Promise((r) => setImmediate(r)); // one read per event-loop turn
    }
    const entries = await Promise.all(reads);
    entries.forEach((e, i) => expect(e).toMatchObject(i < 10 ? { manifestURI: `ipfs://v1/${i + 1}` } : { timestamp: 0 }));
    const calls = ethCalls(provider);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.params[0]).not.toHaveProperty("to"); // the deployless EntriesBatchReader
    await close();
  });

  it("reads a lone hash with a plain entries() call to the registry", async () => {
    const { provider, reader, close } = readerWith();
    expect(await reader.readEntry(registry, hash(2))).toMatchObject({ manifestURI: "ipfs://v1/2" });
    const [call] = ethCalls(provider);
    expect(call!.params[0]).toEqual({ to: registry.toLowerCase(), data: contentRegistryInterface.encodeFunctionData("entries", [hash(2)]) });
    expect((call!.params[0] as { data: string }).data.startsWith(entriesSelector)).toBe(true);
    await close();
  });
});

describe("errors", () => {
  it("E_REGISTRY_NOT_CONTRACT for an address without code: alone (entries() answers 0x, eth_getCode tells) and in a batch", async () => {
    const { provider, reader, close } = readerWith();
    const noCode = chain.accounts[3]!.address;
    const alone = await reader.readEntry(noCode, hash(1)).catch((e: unknown) => e);
    expect(alone).toBeInstanceOf(PermanentError);
    expect(alone).toMatchObject({ code: "E_REGISTRY_NOT_CONTRACT" });
    expect(provider.count("eth_getCode")).toBe(1);
    const batch = await Promise.all([2, 3].map((h) => reader.readEntry(noCode, hash(h)).catch((e: unknown) => e)));
    for (const err of batch) expect(err).toMatchObject({ code: "E_REGISTRY_NOT_CONTRACT" });
    expect(provider.count("eth_getCode")).toBe(1); // the batch reader says so itself
    await close();
  });

  it("never caches an error: the reads that shared a failed call fail, the next read asks again", async () => {
    // A proxy to the chain that answers the next eth_call with a 503, then forwards again.
    let failNextCall = true;
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        if (failNextCall && (JSON.parse(body) as { method: string }).method === "eth_call") {
          failNextCall = false;
          res.writeHead(503).end();
          return;
        }
        void fetch(chain.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body })
          .then((r) => r.text())
          .then((text) => res.writeHead(200, { "content-type": "application/json" }).end(text));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const provider = new RecordingProvider(`http://127.0.0.1:${(proxy.address() as { port: number }).port}`);
    const reader = createRegistryReader({ provider, clock: createRpcBlockClock(provider, 60_000) });

    const failed = await Promise.all([1, 2, 3].map(() => reader.readEntry(registry, hash(5)).catch((e: unknown) => e)));
    for (const err of failed) {
      expect(err).toBeInstanceOf(TransientError);
      expect(err).toMatchObject({ code: "E_RPC_UNAVAILABLE" });
    }
    expect(await reader.readEntry(registry, hash(5))).toMatchObject({ manifestURI: "ipfs://v1/5" });
    expect(provider.count("eth_call")).toBe(2);
    expect(provider.count("eth_blockNumber")).toBe(1); // the same block both times: only the error was forgotten
    await reader.close();
    provider.destroy();
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  });
});

describe("a chain endpoint, as chain-check uses it", () => {
  const sent = async (method: string) => (await chainRpcRequests.get()).values.find((v) => v.labels.method === method)?.value ?? 0;
  const reads = async (outcome: string) => (await chainReadCache.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  const snapshot = async () => ({
    ethCall: await sent("eth_call"),
    blockNumber: await sent("eth_blockNumber"),
    getLogs: await sent("eth_getLogs"),
    hit: await reads("hit"),
    miss: await reads("miss"),
  });

  it("reports on its metrics every call it sends and every read the cache answered; the log search asks the clock", async () => {
    const chains = createChainEndpoints({
      rpcUrl: chain.rpcUrl,
      rpcUrlAllowlist: [],
      rpcTimeoutMs: 5000,
      rpcMaxResponseBytes: 4 * 1024 ** 2,
      maxBatch: 100,
      maxInFlight: 4,
      blockMaxAgeMs: 60_000,
      readWindowMs: 5,
      readCacheEntries: 1000,
      logsFromBlock: 0,
      logsChunk: 10_000,
      logsMaxRange: 1_000_000,
    });
    const before = await snapshot();
    // 10 waves of the same 20 contents, as repeated verifications make them.
    for (let wave = 0; wave < 10; wave++) await Promise.all(Array.from({ length: 20 }, (_, i) => chains.main.readEntry(registry, hash(i + 1))));
    expect(await chains.main.findRegistration(registry, hash(1))).not.toBeNull();
    const after = await snapshot();
    expect(after.ethCall - before.ethCall).toBe(1); // the first wave, in one batch
    expect(after.blockNumber - before.blockNumber).toBe(1); // the reads' and the log search's
    expect(after.getLogs - before.getLogs).toBe(1);
    expect({ hit: after.hit - before.hit, miss: after.miss - before.miss }).toEqual({ hit: 180, miss: 20 });
    await chains.close();
  });
});
