import { PermanentError, TransientError } from "@veriflow/errors";
import { FetchRequest, JsonRpcProvider, Network, type FetchGetUrlFunc } from "ethers";

export interface RpcProviderOptions {
  /**
   * The chain's id. The provider never asks the node for it (no eth_chainId probe, no start-up
   * retry loop when the node is down); without it the network reads as "unknown" (chainId 0).
   */
  chainId?: number;
  /** Whole-request timeout, retries of HTTP 429 included. */
  timeoutMs?: number;
  /** How requests are sent (createRpcGetUrl: guarded, bounded, no redirects); ethers' own node:http fetch by default. */
  getUrl?: FetchGetUrlFunc;
}

/**
 * An ethers provider for the pipeline's reads: static network, a timeout, no JSON-RPC batching
 * (the registry reader batches itself) and no 250 ms response cache (a read after a write must see it).
 */
export function createRpcProvider(rpcUrl: string, opts: RpcProviderOptions = {}): JsonRpcProvider {
  const request = new FetchRequest(rpcUrl);
  request.timeout = opts.timeoutMs ?? 10_000;
  if (opts.getUrl) request.getUrlFunc = opts.getUrl;
  return new JsonRpcProvider(request, Network.from(opts.chainId ?? 0), {
    staticNetwork: true,
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
}

/** What a node answered to a JSON-RPC request that failed (ethers keeps it in `info.error`). */
function rpcErrorOf(err: unknown): { code?: number; message?: string } | undefined {
  const info = (err as { info?: { error?: { code?: number; message?: string } } }).info;
  return info?.error;
}

/**
 * True when the node executed an eth_call and the EVM reverted. ethers reports *every* failed
 * eth_call as CALL_EXCEPTION (rate limits and internal errors too), so look at what the node said.
 */
export function isExecutionRevert(err: unknown): boolean {
  if ((err as { code?: string }).code !== "CALL_EXCEPTION") return false;
  const rpc = rpcErrorOf(err);
  if (rpc === undefined) return true; // raised by ethers itself from revert data it decoded
  return rpc.code === 3 || /revert/i.test(rpc.message ?? "");
}

/**
 * Classifies a failed read: our own errors pass through; anything the node or the network did is
 * transient (timeouts, refused connections, 5xx, rate limits), since a retry may succeed.
 */
export function toRpcError(err: unknown, context: string): PermanentError | TransientError {
  if (err instanceof PermanentError || err instanceof TransientError) return err;
  const e = err as { shortMessage?: string; message?: string; code?: string };
  const detail = rpcErrorOf(err)?.message ?? e.shortMessage ?? e.message ?? String(err);
  return new TransientError("E_RPC_UNAVAILABLE", `${context}: ${detail}`, { cause: err });
}
