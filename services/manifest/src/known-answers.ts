import { readRegistryLogs, type LogReader } from "@veriflow/adapters";
import { tenantOf, type Envelope, type ProofDocument, type VerifyResult } from "@veriflow/events";
import type { KnownVerdictReader } from "@veriflow/pipeline";
import type { Logger } from "@veriflow/platform";
import { decideFromKnown } from "@veriflow/verify";

export interface KnownAnswerDeps {
  known: KnownVerdictReader;
  /** The configured chain: its head, and the registry's logs of the content hash since the verdict. */
  chain: LogReader & { getBlockNumber(): Promise<number> };
  /** Most blocks between a verdict and the head still checked (one getLogs; CHAIN_LOGS_CHUNK): an older verdict is decided afresh. */
  maxBlocks: number;
}

/**
 * The verdict this job's question already has, if it still holds at the chain's current block:
 * the record (KnownVerdictReader), then the registry logs of the content hash from the block
 * after it to the head (decideFromKnown). Null: decide afresh, also when the store or the chain
 * does not answer (a full run is always right, only slower).
 */
export function createKnownAnswers(deps: KnownAnswerDeps) {
  return async (event: Envelope<"content.hashed">, log: Logger): Promise<VerifyResult | ProofDocument | null> => {
    const { request, contentHash } = event.data;
    try {
      const known = await deps.known.find({ tenant: tenantOf(event), jobType: request.jobType, registryAddress: request.registryAddress, contentHash, manifestUri: request.manifestUri });
      if (!known) return null;
      const head = await deps.chain.getBlockNumber();
      if (head - known.decidedAtBlock > deps.maxBlocks) return null;
      const changes = known.decidedAtBlock < head ? await readRegistryLogs(deps.chain, request.registryAddress, known.decidedAtBlock + 1, head, contentHash) : [];
      const decision = decideFromKnown(known, head, changes);
      log.debug({ contentHash, head, decidedAtBlock: known.decidedAtBlock, reusedFrom: known.jobId, ...(decision.reuse ? {} : { why: decision.why }) }, decision.reuse ? "answered from a known verdict" : "known verdict not current");
      return decision.reuse ? decision.result : null;
    } catch (err) {
      log.warn({ err, contentHash }, "known verdict not checked; deciding afresh");
      return null;
    }
  };
}
