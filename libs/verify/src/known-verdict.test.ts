import { describe, expect, it } from "vitest";
import { KnownVerdict, VerifyResult, type KnownVerdict as Known } from "@veriflow/events";
import { decideFromKnown, mayAnswerFromKnown } from "./known-verdict.js";

const hash = "0x" + "ab".repeat(32);
const creator = "0x" + "1".repeat(40);
const result: VerifyResult = {
  status: "OK",
  reasons: [],
  fileHash: hash,
  recovered: creator,
  onchain: { creator, timestamp: 1_700_000_000, manifestURI: "ipfs://bafy", revoked: false, blockNumber: 10 },
  checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
};
const known: Known = KnownVerdict.parse({ jobId: "job-a", run: 1, decidedAtBlock: 10, result });

describe("mayAnswerFromKnown", () => {
  it("only a first run on the configured chain that did not ask to be fresh looks for a known verdict", () => {
    expect(mayAnswerFromKnown({ rpcUrl: null }, 1)).toBe(true);
    expect(mayAnswerFromKnown({ rpcUrl: null, fresh: false }, 1)).toBe(true);
    expect(mayAnswerFromKnown({ rpcUrl: null, fresh: true }, 1)).toBe(false);
    expect(mayAnswerFromKnown({ rpcUrl: "https://rpc.example/" }, 1)).toBe(false);
    // a re-verification or a retry is a later run: always a full one
    expect(mayAnswerFromKnown({ rpcUrl: null }, 2)).toBe(false);
  });
});

describe("decideFromKnown", () => {
  it("answers with the recorded verdict, marked with the job and the block that decided it, while no log of the hash followed", () => {
    const d = decideFromKnown(known, 15, []);
    expect(d).toEqual({ reuse: true, result: { ...result, reusedFrom: "job-a", decidedAtBlock: 10 } });
    if (d.reuse) expect(VerifyResult.parse(d.result)).toMatchObject({ reusedFrom: "job-a", decidedAtBlock: 10 });
    expect(decideFromKnown(known, 10, [])).toMatchObject({ reuse: true });
  });

  it("decides afresh when a registry log of the hash came after the verdict's block", () => {
    expect(decideFromKnown(known, 15, [{ blockNumber: 11 }])).toEqual({ reuse: false, why: "entry_changed" });
    expect(decideFromKnown(known, 15, [{ blockNumber: 9 }, { blockNumber: 15 }])).toEqual({ reuse: false, why: "entry_changed" });
  });

  it("a log at or before the verdict's block was already seen by it", () => {
    expect(decideFromKnown(known, 15, [{ blockNumber: 10 }, { blockNumber: 3 }])).toMatchObject({ reuse: true });
  });

  it("decides afresh without a record, or with one decided past the chain's head (a chain reset)", () => {
    expect(decideFromKnown(null, 15, [])).toEqual({ reuse: false, why: "unknown" });
    expect(decideFromKnown(known, 9, [])).toEqual({ reuse: false, why: "ahead_of_chain" });
  });

  it("names the deciding job even when the recorded result carries another's mark", () => {
    const marked = { ...known, result: { ...result, reusedFrom: "job-z", decidedAtBlock: 2 } };
    expect(decideFromKnown(marked, 12, [])).toMatchObject({ reuse: true, result: { reusedFrom: "job-a", decidedAtBlock: 10 } });
  });
});
