import { describe, expect, it } from "vitest";
import { planReadWindow, reconcileLogs, type RegistryLog } from "./read-window.js";

const base = { firstBlock: 0, confirmations: 0, reorgDepth: 3, maxRange: 100 };

describe("planReadWindow: the checkpoint", () => {
  it("reads from the checkpoint less the reorg depth up to the confirmed head, and moves the checkpoint past it", () => {
    expect(planReadWindow({ ...base, nextBlock: 10, head: 20, confirmations: 2 })).toEqual({ fromBlock: 7, toBlock: 18, nextBlock: 19 });
  });

  it("never reads unconfirmed blocks: nothing while the head is within the confirmations, and the checkpoint stays", () => {
    expect(planReadWindow({ ...base, reorgDepth: 0, nextBlock: 19, head: 20, confirmations: 2 })).toBeNull();
    // With a reorg depth it still re-reads the window below, but does not move the checkpoint back.
    expect(planReadWindow({ ...base, nextBlock: 19, head: 20, confirmations: 2 })).toEqual({ fromBlock: 16, toBlock: 18, nextBlock: 19 });
  });

  it("catches up at most maxRange new blocks per pass", () => {
    expect(planReadWindow({ ...base, maxRange: 50, nextBlock: 100, head: 1000 })).toEqual({ fromBlock: 97, toBlock: 149, nextBlock: 150 });
  });

  it("never reads below the registry's first block, nor below 0", () => {
    expect(planReadWindow({ ...base, firstBlock: 9, nextBlock: 10, head: 12 })).toEqual({ fromBlock: 9, toBlock: 12, nextBlock: 13 });
    expect(planReadWindow({ ...base, nextBlock: 1, head: 1 })).toEqual({ fromBlock: 0, toBlock: 1, nextBlock: 2 });
  });

  it("resumes where it stopped: the next pass starts at the checkpoint the last one left", () => {
    const first = planReadWindow({ ...base, reorgDepth: 0, nextBlock: 0, head: 5 })!;
    const second = planReadWindow({ ...base, reorgDepth: 0, nextBlock: first.nextBlock, head: 8 })!;
    expect(second).toEqual({ fromBlock: 6, toBlock: 8, nextBlock: 9 });
  });
});

const log = (blockNumber: number, blockHash: string, logIndex = 0, kind: RegistryLog["kind"] = "revoked"): RegistryLog => ({
  blockNumber,
  blockHash,
  logIndex,
  txHash: "0x" + "aa".repeat(32),
  contentHash: "0x" + "11".repeat(32),
  kind,
  manifestURI: "",
});

describe("reconcileLogs: reorganisations", () => {
  it("a log read again is neither added nor removed", () => {
    const a = log(5, "0xa5");
    expect(reconcileLogs([a], [a], { fromBlock: 3, toBlock: 6 })).toEqual({ added: [], removed: [] });
  });

  it("a replaced block: its old logs are removed, the replacing block's logs are added", () => {
    const old = log(5, "0xa5");
    const replacement = log(5, "0xb5");
    expect(reconcileLogs([old], [replacement], { fromBlock: 3, toBlock: 6 })).toEqual({ added: [replacement], removed: [old] });
  });

  it("a reorg that drops a block without replacing its log: removed", () => {
    const revoked = log(6, "0xa6");
    expect(reconcileLogs([log(4, "0xa4"), revoked], [log(4, "0xa4")], { fromBlock: 3, toBlock: 6 })).toEqual({ added: [], removed: [revoked] });
  });

  it("known logs outside the window are not judged (deeper than the reorg depth)", () => {
    expect(reconcileLogs([log(1, "0xa1")], [], { fromBlock: 3, toBlock: 6 })).toEqual({ added: [], removed: [] });
  });

  it("keys on block hash and log index, in any case", () => {
    expect(reconcileLogs([log(5, "0xAB", 2)], [log(5, "0xab", 2)], { fromBlock: 5, toBlock: 5 })).toEqual({ added: [], removed: [] });
    expect(reconcileLogs([log(5, "0xab", 2)], [log(5, "0xab", 3)], { fromBlock: 5, toBlock: 5 }).added).toHaveLength(1);
  });
});
