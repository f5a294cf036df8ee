import {
  createEvent,
  createRegistryChangedEvent,
  createRetryEvent,
  runOf,
  type Envelope,
  type KnownVerdict,
  type ProofDocument,
  type RegistryChangedEvent,
  type VerdictSummary,
  type VerifyResult,
} from "@veriflow/events";
import type { RegistryLog } from "./read-window.js";

/**
 * What registry-watch decides, without I/O: the verdict a completed run reached, whether a
 * re-verification changed it, the event of a registry log, the run that re-verifies a job.
 */

export function verdictOf(result: Pick<VerifyResult, "status" | "reasons" | "onchain">): VerdictSummary {
  return { status: result.status, reasons: [...result.reasons], blockNumber: result.onchain.blockNumber ?? null };
}

/** A verdict changed when its status or its set of reasons did (not the block it was read at). */
export function verdictChanged(a: VerdictSummary, b: VerdictSummary): boolean {
  if (a.status !== b.status) return true;
  const x = [...new Set(a.reasons)].sort();
  const y = [...new Set(b.reasons)].sort();
  return x.length !== y.length || x.some((r, i) => r !== y[i]);
}

/** verification.changed for a completed run whose verdict differs from the run before's; its id derives from the completion's. */
export function changedEvent(completed: Envelope<"verification.completed">, previous: VerdictSummary, now: Date): Envelope<"verification.changed"> {
  const current = verdictOf(completed.data.result);
  return createEvent(
    "verification.changed",
    { jobId: completed.data.jobId, run: runOf(completed), previous, current, block: current.blockNumber },
    completed,
    now,
  );
}

/** The registry.changed event of one log (or of a log that left the chain). */
export function registryChangedEvent(registryAddress: string, log: RegistryLog, removed: boolean, now: Date): RegistryChangedEvent {
  return createRegistryChangedEvent(
    {
      registryAddress: registryAddress.toLowerCase(),
      contentHash: log.contentHash.toLowerCase(),
      kind: log.kind,
      manifestURI: log.manifestURI,
      blockNumber: log.blockNumber,
      blockHash: log.blockHash.toLowerCase(),
      txHash: log.txHash.toLowerCase(),
      logIndex: log.logIndex,
      removed,
    },
    now,
  );
}

/**
 * Per content hash a pass changed, the block from which a verdict has not seen the change: a
 * verdict read at or after it has (the job's own read, or a known verdict, included the log),
 * one read before it is re-verified and its known verdict forgotten. Every verdict, whatever
 * its block, for a log that left the chain, and for a log added in blocks an earlier pass had
 * already read (`checkpoint`, the first block it had not): the chain was reorganised under
 * them, and a verdict read at a later block may have been read on the blocks replaced.
 */
export function changedAtOf(added: readonly RegistryLog[], removed: readonly RegistryLog[], checkpoint: number): Map<string, number> {
  const changedAt = new Map<string, number>();
  const note = (l: RegistryLog, at: number) => changedAt.set(l.contentHash, Math.max(changedAt.get(l.contentHash) ?? -1, at));
  for (const l of added) note(l, l.blockNumber < checkpoint ? Number.MAX_SAFE_INTEGER : l.blockNumber);
  for (const l of removed) note(l, Number.MAX_SAFE_INTEGER);
  return changedAt;
}

/**
 * The re-verification of a job: run `run` started at the manifest stage by re-issuing the job's
 * content.hashed (the hash is all the rest of the pipeline needs; the upload is gone), as bulk
 * work, caused by the registry change. Its id derives from the job and the run, so the same
 * run asked for twice is published once.
 */
export function reverifyEvent(hashed: Envelope<"content.hashed">, run: number, causeId: string, now: Date): Envelope<"content.hashed"> {
  const input: Envelope<"content.hashed"> = {
    ...hashed,
    data: { ...hashed.data, request: { ...hashed.data.request, priority: "bulk" }, startedAt: now.toISOString(), attempts: 1 },
  };
  return createRetryEvent(input, run, causeId, now);
}

/**
 * The verdict of a completed run worth keeping for answering again: its own (not itself answered
 * from a known one, whose job did not decide it) and read at a known block.
 */
export function knownVerdictOf(jobId: string, run: number, result: VerifyResult | ProofDocument): KnownVerdict | null {
  if (result.reusedFrom !== undefined || result.onchain.blockNumber === null) return null;
  return { jobId, run, decidedAtBlock: result.onchain.blockNumber, result };
}
