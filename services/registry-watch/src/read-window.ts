import type { RegistryLog } from "@veriflow/adapters";

/**
 * Which blocks one pass reads for a registry: pure, so the checkpoint and reorg rules are
 * tested without a chain (read-window.test.ts).
 *
 * - Only confirmed blocks: up to `head - confirmations`.
 * - From the checkpoint `nextBlock` (the first block not read yet), but starting `reorgDepth`
 *   blocks below it: a reorganisation that deep may have replaced blocks read before, and
 *   reading them again shows which logs came and which went (reconcileLogs). Never below
 *   `firstBlock`, where following the registry began.
 * - At most `maxRange` new blocks per pass (the node's getLogs limit), so a long way behind
 *   catches up over several passes; the checkpoint moves to the block after the last read.
 */
export interface ReadWindowInput {
  nextBlock: number;
  firstBlock: number;
  head: number;
  confirmations: number;
  reorgDepth: number;
  maxRange: number;
}

export interface ReadWindow {
  fromBlock: number;
  toBlock: number;
  /** The checkpoint once this window is read. */
  nextBlock: number;
}

export function planReadWindow(input: ReadWindowInput): ReadWindow | null {
  const safeHead = input.head - input.confirmations;
  const fromBlock = Math.max(input.firstBlock, input.nextBlock - input.reorgDepth, 0);
  const toBlock = Math.min(safeHead, input.nextBlock + input.maxRange - 1);
  if (toBlock < fromBlock) return null;
  return { fromBlock, toBlock, nextBlock: Math.max(input.nextBlock, toBlock + 1) };
}

/** A registry log as read (and as kept in registry_logs): @veriflow/adapters' one reader's. */
export type { RegistryLog };

const keyOf = (l: Pick<RegistryLog, "blockHash" | "logIndex">) => `${l.blockHash.toLowerCase()}:${l.logIndex}`;

/**
 * What a read of a window changed against the logs known in that window: `added`, logs not
 * read before (new blocks, or a transaction mined again into a replacing block, whose block
 * hash differs); `removed`, logs read before that the chain no longer has in the window (their
 * block was replaced). A log read again is neither: no second event for it.
 */
export function reconcileLogs(known: readonly RegistryLog[], read: readonly RegistryLog[], window: Pick<ReadWindow, "fromBlock" | "toBlock">): { added: RegistryLog[]; removed: RegistryLog[] } {
  const readKeys = new Set(read.map(keyOf));
  const knownKeys = new Set(known.map(keyOf));
  const inWindow = (l: RegistryLog) => l.blockNumber >= window.fromBlock && l.blockNumber <= window.toBlock;
  return {
    added: read.filter((l) => !knownKeys.has(keyOf(l))),
    removed: known.filter((l) => inWindow(l) && !readKeys.has(keyOf(l))),
  };
}
