import { contentRegistryInterface } from "@veriflow/contracts";
import type { Registration } from "@veriflow/events";
import type { Provider } from "ethers";
import { toRpcError } from "./rpc.js";

export interface FindRegistrationOptions {
  /** First block that may hold the registration (e.g. the registry's deployment block). Default 0. */
  fromBlock?: number;
  /** Last block searched. Default: the latest block. */
  toBlock?: number;
  /** Most blocks searched, counted back from `toBlock`. Default 1,000,000. */
  maxRange?: number;
  /** Blocks per eth_getLogs request (public RPCs cap the range). Default 10,000. */
  chunk?: number;
}

const contentRegistered = contentRegistryInterface.getEvent("ContentRegistered")!.topicHash;

/**
 * The `ContentRegistered` log of `contentHash` in `registry`: the transaction that registered it.
 * Scans newest blocks first, `chunk` blocks per request, over at most `maxRange` blocks; the hash is
 * an indexed topic, so the node filters. Null when the hash is not registered in that range.
 * RPC failures throw TransientError E_RPC_UNAVAILABLE.
 */
export async function findRegistration(
  provider: Provider,
  registry: string,
  contentHash: string,
  opts: FindRegistrationOptions = {},
): Promise<Registration | null> {
  const chunk = Math.max(1, opts.chunk ?? 10_000);
  const maxRange = Math.max(1, opts.maxRange ?? 1_000_000);
  try {
    const last = opts.toBlock ?? (await provider.getBlockNumber());
    const first = Math.max(opts.fromBlock ?? 0, last - maxRange + 1);
    for (let end = last; end >= first; end -= chunk) {
      const logs = await provider.getLogs({
        address: registry,
        topics: [contentRegistered, contentHash.toLowerCase()],
        fromBlock: Math.max(first, end - chunk + 1),
        toBlock: end,
      });
      const log = logs.find((l) => !l.removed);
      if (log) {
        return { txHash: log.transactionHash, blockNumber: log.blockNumber, blockHash: log.blockHash, logIndex: log.index };
      }
    }
    return null;
  } catch (err) {
    throw toRpcError(err, `searching the registration of ${contentHash} in ${registry}`);
  }
}
