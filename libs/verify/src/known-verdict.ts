import type { JobRequest, KnownVerdict, ProofDocument, VerifyResult } from "@veriflow/events";

/**
 * "Answer from what is known": whether a job may be answered from a verdict already recorded
 * for the same question (content hash, manifest URI, registry, job type, tenant), without I/O.
 *
 * The recorded verdict read the registry entry at `decidedAtBlock`. The entry of a content hash
 * changes only through a registry log naming it (ContentRegistered, ManifestUpdated,
 * EntryRevoked); the manifest behind a URI is checked against its signature and hash, which the
 * same bytes and URI answer the same way (an ipfs:// manifest is content-addressed; an https://
 * one could be replaced in place, which is what `fresh` is for). So a verdict whose entry has no
 * log after its block, up to the current head, is the verdict a full run would reach now.
 */

/** Whether a job may look for a known verdict at all. */
export function mayAnswerFromKnown(request: Pick<JobRequest, "fresh" | "rpcUrl">, run: number): boolean {
  // fresh: the client asked for a full run. A per-job rpcUrl reads another chain than the one
  // verdicts are recorded for. A later run (a re-verification, a retry) is a full run by design.
  return request.fresh !== true && request.rpcUrl === null && run === 1;
}

export type KnownVerdictDecision =
  | { reuse: true; result: VerifyResult | ProofDocument }
  | { reuse: false; why: "unknown" | "ahead_of_chain" | "entry_changed" };

/**
 * The decision, given the recorded verdict (null: none), the chain's current block and the
 * registry logs of the content hash read from the verdict's block + 1 to that head.
 */
export function decideFromKnown(known: KnownVerdict | null, head: number, changes: readonly { blockNumber: number }[]): KnownVerdictDecision {
  if (!known) return { reuse: false, why: "unknown" };
  // Decided at a block the chain does not have (a chain reset, a node behind another): not current.
  if (known.decidedAtBlock > head) return { reuse: false, why: "ahead_of_chain" };
  if (changes.some((c) => c.blockNumber > known.decidedAtBlock)) return { reuse: false, why: "entry_changed" };
  return { reuse: true, result: { ...known.result, reusedFrom: known.jobId, decidedAtBlock: known.decidedAtBlock } };
}
