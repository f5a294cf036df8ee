import type { FetchGetUrlFunc, JsonRpcProvider } from "ethers";
import type { ChainAccess } from "@veriflow/verify";
import { registerChainMetrics } from "./chain-metrics.js";
import { findRegistration } from "./find-registration.js";
import { createRpcBlockClock } from "./block-clock.js";
import { createEntryCache, createRegistryReader, type EntryCache, type RegistryReader } from "./registry-reader.js";
import { createGuardedAgent } from "../manifest/safe-http.js";
import { createRpcProvider, toRpcError } from "./rpc.js";
import { createRpcGetUrl } from "./rpc-fetch.js";
import { checkRpcUrl, normalizeRpcUrl, type RpcUrlPolicy } from "./rpc-url.js";

export interface ChainEndpointConfig extends RpcUrlPolicy {
  rpcTimeoutMs: number;
  /** Largest JSON-RPC response body read (RPC_MAX_RESPONSE_BYTES). */
  rpcMaxResponseBytes: number;
  /** Largest number of entries() read in one batched eth_call. */
  maxBatch: number;
  /** Batched calls in flight at once per RPC endpoint. */
  maxInFlight: number;
  /** How long an endpoint's block number is reused before eth_blockNumber is asked again. */
  blockMaxAgeMs: number;
  /** How long a read waits for others to share its eth_call. */
  readWindowMs: number;
  /** Finished reads kept, by (endpoint, registry, hash, block), for all endpoints together. */
  readCacheEntries: number;
  /** Where the search for a registration log starts (the registry's deploy block). */
  logsFromBlock: number;
  /** Most blocks one eth_getLogs may span. */
  logsChunk: number;
  /** Most blocks searched in all, back from the latest. */
  logsMaxRange: number;
}

export interface ChainEndpoint extends ChainAccess {
  reader: RegistryReader;
  close(): Promise<void>;
}

/**
 * One RPC endpoint: its block clock, a batching and caching registry reader pinned to that clock,
 * the registration search (up to the clock's block: no eth_blockNumber of its own), the chain id
 * (asked once). `cache` may be shared by endpoints: its keys start with the endpoint's URL.
 */
export function createChainEndpoint(rpcUrl: string, cfg: ChainEndpointConfig, getUrl?: FetchGetUrlFunc, cache?: EntryCache): ChainEndpoint {
  const provider: JsonRpcProvider = createRpcProvider(rpcUrl, { timeoutMs: cfg.rpcTimeoutMs, getUrl });
  const clock = createRpcBlockClock(provider, cfg.blockMaxAgeMs);
  const reader = createRegistryReader({
    provider,
    clock,
    maxBatch: cfg.maxBatch,
    maxInFlight: cfg.maxInFlight,
    windowMs: cfg.readWindowMs,
    cache: cache ?? createEntryCache(cfg.readCacheEntries),
    cacheScope: rpcUrl,
  });
  let chainId: Promise<number> | undefined;
  return {
    reader,
    readEntry: (registry, hash) => reader.readEntry(registry, hash),
    findRegistration: async (registry, hash) =>
      findRegistration(provider, registry, hash, {
        fromBlock: cfg.logsFromBlock,
        toBlock: await clock.current(),
        chunk: cfg.logsChunk,
        maxRange: cfg.logsMaxRange,
      }),
    chainId() {
      chainId ??= provider.send("eth_chainId", []).then(
        (hex: string) => Number(BigInt(hex)),
        (err: unknown) => {
          chainId = undefined; // not cached: the next proof asks again
          throw toRpcError(err, "eth_chainId");
        },
      );
      return chainId;
    },
    async close() {
      await reader.close();
      provider.destroy();
    },
  };
}

/**
 * The configured endpoint, plus per-job endpoints (only ones checkRpcUrl allows reach here),
 * kept by their normalised URL in a small bounded cache so a stream of distinct URLs can't
 * grow memory.
 */
export function createChainEndpoints(cfg: ChainEndpointConfig, maxCustom = 16) {
  registerChainMetrics();
  // Every endpoint, the configured one too, is reached through the manifest fetcher's guard:
  // one address check, no redirects, bounded answers. The hosts the operator named
  // (RPC_URL, exact RPC_URL_ALLOWLIST entries, ALLOWED_PRIVATE_HOSTS) may be private; an
  // endpoint admitted by "*" must resolve to public addresses on every connection.
  const agent = createGuardedAgent({
    allowedPrivateHosts: [...(cfg.allowedPrivateHosts ?? []), ...operatorNamedHosts(cfg)],
    connectTimeoutMs: cfg.rpcTimeoutMs,
    refusal: { code: "E_RPC_HOST_NOT_ALLOWED", allowSetting: "ALLOWED_PRIVATE_HOSTS" },
    // Reads are batched (CHAIN_MAX_IN_FLIGHT calls per endpoint, at most 64): a burst of
    // other calls waits for a kept-alive connection instead of opening hundreds.
    connectionsPerOrigin: 64,
  });
  const getUrl = createRpcGetUrl({ dispatcher: agent, maxResponseBytes: cfg.rpcMaxResponseBytes });
  // One cache for every endpoint: CHAIN_READ_CACHE_ENTRIES bounds the process, however many per-job endpoints come and go.
  const cache = createEntryCache(cfg.readCacheEntries);
  const main = createChainEndpoint(cfg.rpcUrl, cfg, getUrl, cache);
  const mainUrl = normalizeRpcUrl(cfg.rpcUrl);
  const custom = new Map<string, ChainEndpoint>();
  return {
    main,
    chainFor(raw: string | null): ChainAccess {
      const rpcUrl = raw === null ? null : (normalizeRpcUrl(raw) ?? raw);
      if (rpcUrl === null || rpcUrl === mainUrl) return main;
      let endpoint = custom.get(rpcUrl);
      if (!endpoint) {
        if (custom.size >= maxCustom) {
          const [oldest, ep] = custom.entries().next().value as [string, ChainEndpoint];
          custom.delete(oldest);
          void ep.close();
        }
        endpoint = createChainEndpoint(rpcUrl, cfg, getUrl, cache);
        custom.set(rpcUrl, endpoint);
      }
      return endpoint;
    },
    /** Whether a job may name `rpcUrl` (checkRpcUrl with this configuration). */
    checkRpcUrl: (rpcUrl: string) => checkRpcUrl(rpcUrl, cfg),
    async close() {
      await Promise.allSettled([main.close(), ...[...custom.values()].map((e) => e.close())]);
      await agent.close();
    },
  };
}

/** "host:port" of RPC_URL and of every exact RPC_URL_ALLOWLIST entry, as the guard's allow-list takes them. */
function operatorNamedHosts(cfg: RpcUrlPolicy): string[] {
  return [cfg.rpcUrl, ...cfg.rpcUrlAllowlist.filter((e) => e !== "*")].flatMap((raw) => {
    const url = normalizeRpcUrl(raw);
    if (url === null) return [];
    const { hostname, port, protocol } = new URL(url);
    return [`${hostname}:${port || (protocol === "https:" ? "443" : "80")}`];
  });
}
