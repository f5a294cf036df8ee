import { MAX_BATCH_READ, type RegistryEntry } from "@veriflow/contracts";
import { ADDRESS_PATTERN, CONTENT_HASH_PATTERN, type OnchainEntry } from "@veriflow/events";
import { PermanentError, TransientError } from "@veriflow/errors";
import { toQuantity, type JsonRpcApiProvider } from "ethers";
import { LruCache } from "../lru-cache.js";
import { createRpcBlockClock, type BlockClock } from "./block-clock.js";
import { chainReadCache } from "./chain-metrics.js";
import { readEntriesAt, type RpcSend } from "./read-entries.js";
import { createRpcProvider } from "./rpc.js";

/** Finished reads by `<scope> <registry> <hash> <block>`: endpoints may share one cache. */
export type EntryCache = LruCache<string, OnchainEntry>;

export interface RegistryReaderOptions {
  /** A provider to use (not closed by `close()`); or `rpcUrl` to let the reader make its own. */
  provider?: JsonRpcApiProvider;
  rpcUrl?: string;
  /** For the reader's own provider: the chain id (no probe) and the request timeout. */
  chainId?: number;
  timeoutMs?: number;
  /** Most hashes per eth_call (≤ 1000: the call data stays under EIP-3860's limit). */
  maxBatch?: number;
  /** Most eth_calls in flight at once; reads arriving meanwhile wait and form the next batches. */
  maxInFlight?: number;
  /** How long a read waits for others to share its eth_call (0: those of the same timer tick). */
  windowMs?: number;
  /** The block reads are pinned to; default: the reader's own clock, asked every `blockMaxAgeMs`. */
  clock?: BlockClock;
  blockMaxAgeMs?: number;
  /** Where finished reads are kept (default: the reader's own, `cacheEntries` long), and this reader's prefix in it. */
  cache?: EntryCache;
  cacheScope?: string;
  cacheEntries?: number;
}

export interface RegistryReader {
  /** The registry's `entries(contentHash)` at the clock's block. Throws PermanentError or TransientError (see readEntriesAt). */
  readEntry(registry: string, contentHash: string): Promise<OnchainEntry>;
  /** Counters: reads asked for, reads answered without a call of their own, eth_calls sent. */
  stats(): { reads: number; hits: number; ethCalls: number };
  /** Rejects queued reads, waits for those in flight, closes the reader's own provider. */
  close(): Promise<void>;
}

export const DEFAULT_BLOCK_MAX_AGE_MS = 500;
export const DEFAULT_READ_WINDOW_MS = 10;
export const DEFAULT_READ_CACHE_ENTRIES = 10_000;
/** The cache's byte bound: a manifestURI is as long as the registry says, so entries alone bound nothing. */
export const READ_CACHE_MAX_BYTES = 32 * 1024 ** 2;
/** What an entry costs besides its URI (key, object, address): a rough figure, for the byte bound only. */
const ENTRY_OVERHEAD_BYTES = 256;

export function createEntryCache(entries: number): EntryCache {
  return new LruCache(entries, READ_CACHE_MAX_BYTES, (e) => e.manifestURI.length + ENTRY_OVERHEAD_BYTES);
}

interface Waiter {
  resolve(entry: OnchainEntry): void;
  reject(err: unknown): void;
}
/** Reads of one registry at one block, waiting for an eth_call: hash → its one waiter. */
interface Queue {
  registry: string;
  block: number;
  waiting: Map<string, Waiter>;
}

/**
 * Reads registry entries pinned to a block, cached, and batched.
 *
 * Each read takes the clock's block number (at most `blockMaxAgeMs` old) and is keyed by
 * (registry, hash, block). A key already read, or being read, costs nothing: repeated verifications
 * of one content within a block share one answer, and when the block advances older keys are simply
 * no longer asked for (the LRU lets them go). Otherwise the read waits up to `windowMs` for others of
 * the same registry and block, and they go out together (readEntriesAt), at most `maxInFlight` calls
 * at once. Errors are never cached: the reads that shared the call get the error, the next one asks again.
 */
export function createRegistryReader(opts: RegistryReaderOptions): RegistryReader {
  const maxBatch = Math.min(Math.max(1, opts.maxBatch ?? 100), MAX_BATCH_READ);
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
  const windowMs = Math.max(0, opts.windowMs ?? DEFAULT_READ_WINDOW_MS);
  const ownProvider = opts.provider === undefined;
  if (!opts.provider && !opts.rpcUrl) throw new Error("createRegistryReader: provider or rpcUrl is required");
  const provider =
    opts.provider ?? createRpcProvider(opts.rpcUrl!, { chainId: opts.chainId, timeoutMs: opts.timeoutMs });
  const clock = opts.clock ?? createRpcBlockClock(provider, opts.blockMaxAgeMs ?? DEFAULT_BLOCK_MAX_AGE_MS);
  const cache = opts.cache ?? createEntryCache(opts.cacheEntries ?? DEFAULT_READ_CACHE_ENTRIES);
  const scope = opts.cacheScope ?? "";

  const reading = new Map<string, Promise<OnchainEntry>>(); // key → a read queued or sent
  const queues = new Map<string, Queue>(); // `<registry>@<block>` → its queue, oldest first
  const running = new Set<Promise<void>>();
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let [reads, hits, ethCalls] = [0, 0, 0];

  const send: RpcSend = (method, params) => {
    if (method === "eth_call") ethCalls++;
    return provider.send(method, params);
  };

  const run = async (q: Queue, batch: [string, Waiter][]): Promise<void> => {
    try {
      const entries = await readEntriesAt(send, q.registry, batch.map(([hash]) => hash), toQuantity(q.block));
      entries.forEach((e, i) => batch[i]![1].resolve(toOnchainEntry(e, q.block)));
      // What did not fit goes back to the head of the queue, to join the reads that came meanwhile.
      if (entries.length < batch.length) requeueFirst(q, batch.slice(entries.length));
    } catch (err) {
      for (const [, w] of batch) w.reject(err);
    }
  };

  const requeueFirst = (q: Queue, items: [string, Waiter][]) => {
    if (closed) return items.forEach(([, w]) => w.reject(closedError()));
    const key = queueKey(q.registry, q.block);
    const waiting = new Map([...items, ...(queues.get(key)?.waiting ?? [])]);
    const rest = [...queues].filter(([k]) => k !== key);
    queues.clear();
    for (const [k, v] of [[key, { ...q, waiting }] as const, ...rest]) queues.set(k, v);
  };

  const pump = () => {
    while (inFlight < maxInFlight && queues.size > 0) {
      const [key, q] = queues.entries().next().value!;
      const batch: [string, Waiter][] = [];
      for (const item of q.waiting) {
        batch.push(item);
        q.waiting.delete(item[0]);
        if (batch.length === maxBatch) break;
      }
      queues.delete(key);
      if (q.waiting.size > 0) queues.set(key, q); // to the back: registries take turns
      inFlight++;
      const p = run(q, batch).finally(() => {
        inFlight--;
        running.delete(p);
        pump(); // what queued while every call was out has waited long enough
      });
      running.add(p);
    }
  };

  const enqueue = (registry: string, block: number, hash: string, waiter: Waiter) => {
    if (closed) return waiter.reject(closedError());
    const key = queueKey(registry, block);
    let q = queues.get(key);
    if (!q) queues.set(key, (q = { registry, block, waiting: new Map() }));
    q.waiting.set(hash, waiter);
    timer ??= setTimeout(() => {
      timer = undefined;
      pump();
    }, windowMs);
  };

  /** The one read of a key: queued now, cached once answered, forgotten (not cached) on failure. */
  const startRead = (key: string, registry: string, block: number, hash: string): Promise<OnchainEntry> => {
    const read = new Promise<OnchainEntry>((resolve, reject) => enqueue(registry, block, hash, { resolve, reject }));
    reading.set(key, read);
    read
      .then((entry) => cache.set(key, entry), () => {})
      .finally(() => reading.delete(key));
    return read;
  };

  return {
    async readEntry(registry, contentHash) {
      if (!ADDRESS_PATTERN.test(registry)) throw new PermanentError("E_INVALID_ARGUMENT", `registry is not an address: ${registry}`);
      if (!CONTENT_HASH_PATTERN.test(contentHash)) throw new PermanentError("E_INVALID_ARGUMENT", `content hash is not 32 bytes: ${contentHash}`);
      if (closed) throw closedError();
      reads++;
      const [r, h, block] = [registry.toLowerCase(), contentHash.toLowerCase(), await clock.current()];
      const key = `${scope} ${r} ${h} ${block}`;
      const known = cache.get(key) ?? reading.get(key);
      chainReadCache.inc({ outcome: known ? "hit" : "miss" });
      if (known) {
        hits++;
        return known;
      }
      return startRead(key, r, block, h);
    },
    stats: () => ({ reads, hits, ethCalls }),
    async close() {
      closed = true;
      clearTimeout(timer);
      for (const q of queues.values()) for (const w of q.waiting.values()) w.reject(closedError());
      queues.clear();
      await Promise.allSettled([...running]);
      if (ownProvider) provider.destroy();
    },
  };
}

const queueKey = (registry: string, block: number) => `${registry}@${block}`;

const closedError = () => new TransientError("E_READER_CLOSED", "the registry reader is closed");

function toOnchainEntry(e: RegistryEntry, blockNumber: number): OnchainEntry {
  return {
    creator: e.creator,
    timestamp: e.timestamp,
    manifestURI: e.manifestURI,
    revoked: e.timestamp !== 0 && e.manifestURI === "",
    blockNumber,
  };
}
