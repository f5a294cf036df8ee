import type { JsonRpcApiProvider } from "ethers";
import { toRpcError } from "./rpc.js";

/** The chain's current block number, as one endpoint's reads share it. */
export interface BlockClock {
  /**
   * The block number, asked of the node (eth_blockNumber) at most once per `maxAgeMs`: an answer
   * is reused until it is that old, counted from when it was asked, so a block mined at t is
   * seen by every read that starts after t + maxAgeMs. Everyone who asks while a request is out
   * shares it; a failed request is not remembered (the next read asks again).
   */
  current(): Promise<number>;
}

export interface BlockClockOptions {
  /** How long an answer is reused; 0 asks for every read (reads that overlap still share one request). */
  maxAgeMs: number;
  /** A monotonic clock in ms (tests pass their own). */
  now?: () => number;
}

/**
 * A clock that asks lazily: nothing runs while no read needs the block (no polling timer), and
 * a burst of reads costs one request. `askBlockNumber` sends the request and classifies its errors.
 */
export function createBlockClock(askBlockNumber: () => Promise<number>, opts: BlockClockOptions): BlockClock {
  const now = opts.now ?? (() => performance.now());
  let known: { block: number; askedAt: number } | undefined;
  let asking: Promise<number> | undefined;
  return {
    current() {
      if (known && now() - known.askedAt < opts.maxAgeMs) return Promise.resolve(known.block);
      if (asking) return asking;
      const askedAt = now();
      asking = askBlockNumber()
        .then((block) => {
          known = { block, askedAt };
          return block;
        })
        .finally(() => {
          asking = undefined;
        });
      return asking;
    },
  };
}

/** A clock over a provider's eth_blockNumber; a failure is TransientError E_RPC_UNAVAILABLE. */
export function createRpcBlockClock(provider: JsonRpcApiProvider, maxAgeMs: number): BlockClock {
  return createBlockClock(async () => {
    try {
      return Number(BigInt((await provider.send("eth_blockNumber", [])) as string));
    } catch (err) {
      throw toRpcError(err, "eth_blockNumber");
    }
  }, { maxAgeMs });
}
