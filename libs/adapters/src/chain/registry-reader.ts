import {
  MAX_BATCH_READ,
  contentRegistryInterface,
  decodeEntriesBatchRead,
  decodeEntry,
  encodeEntriesBatchRead,
  type RegistryEntry,
} from "@veriflow/contracts";
import { ADDRESS_PATTERN, CONTENT_HASH_PATTERN, type OnchainEntry } from "@veriflow/events";
import { PermanentError, TransientError } from "@veriflow/errors";
import type { JsonRpcApiProvider } from "ethers";
import { createRpcProvider, isExecutionRevert, toRpcError } from "./rpc.js";

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
  blockTag?: string;
}

export interface RegistryReader {
  /** The registry's `entries(contentHash)`. Throws PermanentError or TransientError (see below). */
  readEntry(registry: string, contentHash: string): Promise<OnchainEntry>;
  /** Counters for metrics: reads asked for, eth_calls sent. */
  stats(): { reads: number; ethCalls: number };
  /** Rejects queued reads, waits for those in flight, closes the reader's own provider. */
  close(): Promise<void>;
}

interface Waiter {
  resolve(entry: OnchainEntry): void;
  reject(err: unknown): void;
}
/** contentHash → the reads waiting for it (one hash read once per batch). */
type Queue = Map<string, Waiter[]>;

/**
 * Reads registry entries with natural batching: a read is sent at once (on the next microtask) when
 * fewer than `maxInFlight` eth_calls are out; otherwise it waits, and everything that waited for the
 * same registry goes out as ONE deployless EntriesBatchReader call. No added latency at low load,
 * batches of up to `maxBatch` at high load.
 *
 * Errors: a registry address without code → PermanentError E_REGISTRY_NOT_CONTRACT; a contract whose
 * `entries()` reverts or answers garbage → PermanentError E_REGISTRY_INCOMPATIBLE; bad arguments →
 * PermanentError E_INVALID_ARGUMENT; network, timeouts, 5xx, rate limits → TransientError E_RPC_UNAVAILABLE.
 */
export function createRegistryReader(opts: RegistryReaderOptions): RegistryReader {
  const maxBatch = Math.min(Math.max(1, opts.maxBatch ?? 100), MAX_BATCH_READ);
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 4);
  const blockTag = opts.blockTag ?? "latest";
  const ownProvider = opts.provider === undefined;
  if (!opts.provider && !opts.rpcUrl) throw new Error("createRegistryReader: provider or rpcUrl is required");
  const provider =
    opts.provider ?? createRpcProvider(opts.rpcUrl!, { chainId: opts.chainId, timeoutMs: opts.timeoutMs });

  const queues = new Map<string, Queue>(); // registry → its queue, oldest first
  const running = new Set<Promise<void>>();
  let inFlight = 0;
  let scheduled = false;
  let closed = false;
  let reads = 0;
  let ethCalls = 0;

  const ethCall = async (tx: { to?: string; data: string }): Promise<string> => {
    ethCalls++;
    return (await provider.send("eth_call", [tx, blockTag])) as string;
  };

  /**
   * Entries of a prefix of `hashes` (at least one): the chain caps a batch's output at 24576 bytes,
   * so long URIs can cut a batch short; an entry too large for any batch is read on its own.
   */
  const readPrefix = async (registry: string, hashes: string[]): Promise<RegistryEntry[]> => {
    const { registryIsContract, entries } = decodeEntriesBatchRead(
      await ethCall({ data: encodeEntriesBatchRead(registry, hashes) }),
    );
    if (!registryIsContract) {
      throw new PermanentError("E_REGISTRY_NOT_CONTRACT", `registry ${registry} is not a contract (no code)`);
    }
    if (entries.length > 0) return entries;
    const data = contentRegistryInterface.encodeFunctionData("entries", [hashes[0]]);
    return [decodeEntry(await ethCall({ to: registry, data }))];
  };

  const run = async (registry: string, batch: [string, Waiter[]][]): Promise<void> => {
    try {
      const entries = await readPrefix(registry, batch.map(([hash]) => hash));
      entries.forEach((e, i) => {
        const entry = toOnchainEntry(e);
        for (const w of batch[i]![1]) w.resolve(entry);
      });
      // What did not fit goes back to the head of the queue, to join the reads that came meanwhile.
      if (entries.length < batch.length) requeueFirst(registry, batch.slice(entries.length));
    } catch (err) {
      const error = classify(err, registry);
      for (const [, waiters] of batch) for (const w of waiters) w.reject(error);
    }
  };

  const requeueFirst = (registry: string, items: [string, Waiter[]][]) => {
    if (closed) {
      for (const [, waiters] of items) for (const w of waiters) w.reject(closedError());
      return;
    }
    const queue: Queue = new Map(items);
    for (const [hash, waiters] of queues.get(registry) ?? []) {
      const existing = queue.get(hash);
      if (existing) existing.push(...waiters);
      else queue.set(hash, waiters);
    }
    queues.delete(registry);
    const rest = [...queues];
    queues.clear();
    for (const [r, q] of [[registry, queue] as const, ...rest]) queues.set(r, q);
  };

  const pump = () => {
    while (inFlight < maxInFlight && queues.size > 0) {
      const [registry, queue] = queues.entries().next().value!;
      const batch: [string, Waiter[]][] = [];
      for (const item of queue) {
        batch.push(item);
        queue.delete(item[0]);
        if (batch.length === maxBatch) break;
      }
      queues.delete(registry);
      if (queue.size > 0) queues.set(registry, queue); // to the back: registries take turns
      inFlight++;
      const p = run(registry, batch).finally(() => {
        inFlight--;
        running.delete(p);
        pump();
      });
      running.add(p);
    }
  };

  return {
    readEntry(registry, contentHash) {
      if (!ADDRESS_PATTERN.test(registry)) {
        return Promise.reject(new PermanentError("E_INVALID_ARGUMENT", `registry is not an address: ${registry}`));
      }
      if (!CONTENT_HASH_PATTERN.test(contentHash)) {
        return Promise.reject(new PermanentError("E_INVALID_ARGUMENT", `content hash is not 32 bytes: ${contentHash}`));
      }
      if (closed) return Promise.reject(closedError());
      reads++;
      return new Promise<OnchainEntry>((resolve, reject) => {
        const key = registry.toLowerCase();
        const hash = contentHash.toLowerCase();
        let queue = queues.get(key);
        if (!queue) queues.set(key, (queue = new Map()));
        const waiters = queue.get(hash);
        if (waiters) waiters.push({ resolve, reject });
        else queue.set(hash, [{ resolve, reject }]);
        if (!scheduled) {
          scheduled = true; // everything asked in this tick joins one batch
          queueMicrotask(() => {
            scheduled = false;
            pump();
          });
        }
      });
    },
    stats: () => ({ reads, ethCalls }),
    async close() {
      closed = true;
      for (const queue of queues.values()) for (const waiters of queue.values()) for (const w of waiters) w.reject(closedError());
      queues.clear();
      await Promise.allSettled([...running]);
      if (ownProvider) provider.destroy();
    },
  };
}

const closedError = () => new TransientError("E_READER_CLOSED", "the registry reader is closed");

function toOnchainEntry(e: RegistryEntry): OnchainEntry {
  return {
    creator: e.creator,
    timestamp: e.timestamp,
    manifestURI: e.manifestURI,
    revoked: e.timestamp !== 0 && e.manifestURI === "",
  };
}

function classify(err: unknown, registry: string): PermanentError | TransientError {
  if (isExecutionRevert(err)) {
    return new PermanentError(
      "E_REGISTRY_INCOMPATIBLE",
      `registry ${registry} is not a ContentRegistry: entries() reverted or returned malformed data`,
      { cause: err },
    );
  }
  return toRpcError(err, `reading registry ${registry}`);
}
