import type { EnvReader } from "@veriflow/platform";
import type { ChainEndpointConfig } from "./chain/chain-access.js";
import { DEFAULT_BLOCK_MAX_AGE_MS, DEFAULT_READ_CACHE_ENTRIES, DEFAULT_READ_WINDOW_MS } from "./chain/registry-reader.js";
import { rpcUrlAllowlistProblems } from "./chain/rpc-url.js";
import type { ManifestFetchConfig } from "./manifest/fetch-manifest.js";

/**
 * The env variables of the adapters, read the same way by every service that uses them
 * (the manifest and chain-check stages, and the gateway's in-process fallback).
 */

export const DEFAULT_IPFS_GATEWAYS = ["https://trustless-gateway.link", "https://ipfs.io"];

/** IPFS_GATEWAYS, MANIFEST_TIMEOUT_MS, MANIFEST_MAX_BYTES, MANIFEST_ALLOW_HTTP, ALLOWED_PRIVATE_HOSTS. */
export function readManifestFetchConfig(r: EnvReader): ManifestFetchConfig {
  const gateways = r.list("IPFS_GATEWAYS", DEFAULT_IPFS_GATEWAYS);
  for (const g of gateways) {
    try {
      if (!/^https?:$/.test(new URL(g).protocol)) r.problems.push(`IPFS_GATEWAYS: "${g}" must be an http(s) URL`);
    } catch {
      r.problems.push(`IPFS_GATEWAYS: "${g}" is not a URL`);
    }
  }
  return {
    ipfsGateways: gateways,
    timeoutMs: r.int("MANIFEST_TIMEOUT_MS", 5000, { min: 100 }),
    maxBytes: r.int("MANIFEST_MAX_BYTES", 256 * 1024, { min: 1024 }),
    allowHttp: r.bool("MANIFEST_ALLOW_HTTP", false),
    allowedPrivateHosts: r.list("ALLOWED_PRIVATE_HOSTS"),
  };
}

/**
 * RPC_URL, RPC_URL_ALLOWLIST, ALLOWED_PRIVATE_HOSTS, RPC_TIMEOUT_MS, RPC_MAX_RESPONSE_BYTES,
 * CHAIN_MAX_BATCH, CHAIN_MAX_IN_FLIGHT, CHAIN_BLOCK_MAX_AGE_MS, CHAIN_READ_WINDOW_MS,
 * CHAIN_READ_CACHE_ENTRIES, CHAIN_LOGS_*.
 */
export function readChainEndpointConfig(r: EnvReader): ChainEndpointConfig {
  const rpcUrlAllowlist = r.list("RPC_URL_ALLOWLIST");
  r.problems.push(...rpcUrlAllowlistProblems(rpcUrlAllowlist));
  return {
    rpcUrl: r.url("RPC_URL", "http://127.0.0.1:8545")!,
    rpcUrlAllowlist,
    // Read by the manifest stage too: one list of the private hosts a job may make us call.
    allowedPrivateHosts: r.list("ALLOWED_PRIVATE_HOSTS"),
    rpcTimeoutMs: r.int("RPC_TIMEOUT_MS", 10_000, { min: 100 }),
    rpcMaxResponseBytes: r.int("RPC_MAX_RESPONSE_BYTES", 4 * 1024 ** 2, { min: 64 * 1024 }),
    maxBatch: r.int("CHAIN_MAX_BATCH", 100, { min: 1, max: 1000 }),
    maxInFlight: r.int("CHAIN_MAX_IN_FLIGHT", 4, { min: 1, max: 64 }),
    // How stale a verdict may be: a registration or revocation is seen at most this long after its block.
    blockMaxAgeMs: r.int("CHAIN_BLOCK_MAX_AGE_MS", DEFAULT_BLOCK_MAX_AGE_MS, { min: 0, max: 60_000 }),
    readWindowMs: r.int("CHAIN_READ_WINDOW_MS", DEFAULT_READ_WINDOW_MS, { min: 0, max: 1000 }),
    readCacheEntries: r.int("CHAIN_READ_CACHE_ENTRIES", DEFAULT_READ_CACHE_ENTRIES, { min: 0, max: 1_000_000 }),
    logsFromBlock: r.int("CHAIN_LOGS_FROM_BLOCK", 0, { min: 0 }),
    logsChunk: r.int("CHAIN_LOGS_CHUNK", 10_000, { min: 1 }),
    logsMaxRange: r.int("CHAIN_LOGS_MAX_RANGE", 1_000_000, { min: 1 }),
  };
}
