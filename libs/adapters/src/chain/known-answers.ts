import { tenantOf, type Envelope, type JobRequest, type KnownVerdict, type ProofDocument, type VerifyResult } from "@veriflow/events";
import type { KnownVerdictReader } from "@veriflow/pipeline";
import type { Logger } from "@veriflow/platform";
import { decideFromKnown } from "@veriflow/verify";
import { readRegistryLogs, type LogReader } from "./registry-logs.js";

export interface KnownAnswerDeps {
  known: KnownVerdictReader;
  /** The configured chain: its head, and the registry's logs of the content hash since the verdict. */
  chain: LogReader & { getBlockNumber(): Promise<number> };
  /** Most blocks between a verdict and the head still checked (one getLogs; CHAIN_LOGS_CHUNK): an older verdict is decided afresh. */
  maxBlocks: number;
}

/** What a job asks, as far as a known verdict goes: its request and content hash, in its tenant. */
export type KnownAnswerQuestion = Pick<Envelope, "tenant"> & { data: { request: JobRequest; contentHash: string } };

export type KnownAnswer =
  | { reuse: true; result: VerifyResult | ProofDocument; known: KnownVerdict }
  | { reuse: false; why: "unknown" | "not_this_question" | "too_far_behind" | "ahead_of_chain" | "entry_changed" | "not_checked" };

/**
 * The verdict a job's question already has, if it still holds at the chain's current block: the
 * record (KnownVerdictReader), then the registry logs of the content hash from the block after it
 * to the head (decideFromKnown). The manifest stage asks it to skip the fetch; chain-check asks it
 * again before it answers (a change may have landed in between, and only chain-check states
 * verdicts): the question's record as it reads it then, whichever the manifest stage's pointer
 * named (a later verdict may have replaced that one; a pointer is a hint that no manifest was
 * fetched, never a source of the answer). No reuse: decide afresh, also
 * when the store or the chain does not answer ("not_checked": a full run is always right, only slower).
 */
export function createKnownAnswers(deps: KnownAnswerDeps) {
  return async (event: KnownAnswerQuestion, log: Logger): Promise<KnownAnswer> => {
    const { request, contentHash } = event.data;
    try {
      const known = await deps.known.find({ tenant: tenantOf(event), jobType: request.jobType, registryAddress: request.registryAddress, contentHash, manifestUri: request.manifestUri });
      if (!known) return { reuse: false, why: "unknown" };
      if (!answers(known, request, contentHash)) return { reuse: false, why: "not_this_question" };
      const head = await deps.chain.getBlockNumber();
      if (head - known.decidedAtBlock > deps.maxBlocks) return { reuse: false, why: "too_far_behind" };
      const changes = known.decidedAtBlock < head ? await readRegistryLogs(deps.chain, request.registryAddress, known.decidedAtBlock + 1, head, contentHash) : [];
      const decision = decideFromKnown(known, head, changes);
      log.debug({ contentHash, head, decidedAtBlock: known.decidedAtBlock, reusedFrom: known.jobId, ...(decision.reuse ? {} : { why: decision.why }) }, decision.reuse ? "known verdict current" : "known verdict not current");
      return decision.reuse ? { ...decision, known } : decision;
    } catch (err) {
      log.warn({ err, contentHash }, "known verdict not checked; deciding afresh");
      return { reuse: false, why: "not_checked" };
    }
  };
}

/** The record's verdict is of this content hash and job type (its key says so too; a record written under the wrong key must not answer). */
const answers = (known: KnownVerdict, request: JobRequest, contentHash: string) =>
  known.result.fileHash.toLowerCase() === contentHash.toLowerCase() && ("proofVersion" in known.result) === (request.jobType === "proof");
