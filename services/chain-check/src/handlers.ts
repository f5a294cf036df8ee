import type { KnownAnswer, KnownAnswerQuestion, RpcUrlCheck } from "@veriflow/adapters";
import { createEvent, runOf, type Envelope, type KnownVerdictPointer } from "@veriflow/events";
import { PermanentError } from "@veriflow/errors";
import type { HandlerContext } from "@veriflow/pipeline";
import type { Logger } from "@veriflow/platform";
import { decideOnChain, mayAnswerFromKnown, type ChainAccess } from "@veriflow/verify";

export interface ChainCheckDeps {
  /** The configured chain for null; a per-job endpoint only where allowed. */
  chainFor(rpcUrl: string | null): ChainAccess;
  /** Whether the job may name its own endpoint (checkRpcUrl, @veriflow/adapters). */
  checkRpcUrl(rpcUrl: string): RpcUrlCheck;
  /**
   * The recorded verdict a manifest.checked points at, read from the store and checked against the
   * chain here (createKnownAnswers, @veriflow/adapters). Absent where no verdicts are kept (the
   * gateway's in-process fallback): a pointer is then never confirmed.
   */
  answerFromKnown?(event: KnownAnswerQuestion, log: Logger): Promise<KnownAnswer>;
  now(): Date;
}

type Output = Envelope<"verification.completed"> | Envelope<"content.hashed">;

export function createHandlers(deps: ChainCheckDeps) {
  return {
    async onManifestChecked(event: Envelope<"manifest.checked">, ctx: HandlerContext): Promise<Output[]> {
      const { request, contentHash } = event.data;
      if (event.data.known) return [await answerFromKnown(deps, event, event.data.known, ctx)];
      const rpc = request.rpcUrl === null ? null : deps.checkRpcUrl(request.rpcUrl);
      if (rpc && !rpc.ok) throw new PermanentError(rpc.code, rpc.message);
      // Without `known`, the catalog's refinement guarantees the manifest check.
      const check = { manifest: event.data.manifest!, recovered: event.data.recovered ?? null };
      const result = await decideOnChain(deps.chainFor(request.rpcUrl), request, contentHash, check, deps.now());
      ctx.log.debug({ contentHash, status: result.status, reasons: result.reasons }, "verdict");
      return [createEvent("verification.completed", { jobId: event.data.jobId, jobType: request.jobType, contentHash, result, attempts: ctx.attempt }, event, deps.now())];
    },
  };
}

/**
 * The manifest stage found a recorded verdict and pointed at it. The pointer is not trusted: the
 * question's record is read again and the chain checked again here, and only a verdict that
 * still holds completes the job (the record read now: a later verdict of the same question may
 * have replaced the one pointed at, and answers as well). Otherwise (a change landed since, the
 * record was forgotten, the store or chain did not answer) the job goes back to the manifest
 * stage for a full run: the same job and run, with `fresh`, so no stage answers it from a known
 * verdict again.
 */
async function answerFromKnown(deps: ChainCheckDeps, event: Envelope<"manifest.checked">, known: KnownVerdictPointer, ctx: HandlerContext): Promise<Output> {
  const { jobId, request, contentHash } = event.data;
  // The same rule as the manifest stage's, checked again: a pointer on a fresh request, a per-job
  // chain or a later run is none the manifest stage would have sent.
  const answer = !mayAnswerFromKnown(request, runOf(event))
    ? ({ reuse: false, why: "not_allowed" } as const)
    : deps.answerFromKnown
      ? await deps.answerFromKnown(event, ctx.log)
      : ({ reuse: false, why: "not_kept_here" } as const);
  if (answer.reuse) {
    ctx.log.debug({ contentHash, reusedFrom: answer.known.jobId, pointedAt: known.jobId }, "answered from a known verdict");
    return createEvent("verification.completed", { jobId, jobType: request.jobType, contentHash, result: answer.result, attempts: ctx.attempt }, event, deps.now());
  }
  ctx.log.info({ contentHash, pointedAt: known.jobId, why: answer.why }, "known verdict no longer holds; sending the job back for a full run");
  const { size, startedAt, hashGiven } = known.hashed;
  // Its id derives from this event's (createEvent): a redelivery sends the job back once. attempts 1:
  // the hash was not computed again, and a retry count must not grow for a change on chain.
  return createEvent(
    "content.hashed",
    { jobId, request: { ...request, fresh: true }, contentHash, size, startedAt, attempts: 1, ...(hashGiven ? { hashGiven } : {}) },
    event,
    deps.now(),
  );
}
