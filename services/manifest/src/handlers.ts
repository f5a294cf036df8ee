import { createEvent, runOf, type Envelope, type ProofDocument, type VerifyResult } from "@veriflow/events";
import type { HandlerContext } from "@veriflow/pipeline";
import type { Logger } from "@veriflow/platform";
import { checkManifest, mayAnswerFromKnown } from "@veriflow/verify";

export interface ManifestDeps {
  /** Fetches the manifest's bytes (CID-checked for ipfs://); throws Permanent/TransientError. */
  fetchManifest(uri: string): Promise<{ bytes: Uint8Array; cid: string | null }>;
  /**
   * The verdict the job's question already has, still current (known-answers.ts); null: decide
   * afresh. Absent where no verdicts are kept (the gateway's in-process fallback).
   */
  answerFromKnown?(event: Envelope<"content.hashed">, log: Logger): Promise<VerifyResult | ProofDocument | null>;
  now(): Date;
}

export function createHandlers(deps: ManifestDeps) {
  return {
    async onContentHashed(event: Envelope<"content.hashed">, ctx: HandlerContext): Promise<(Envelope<"manifest.checked"> | Envelope<"verification.completed">)[]> {
      const { request, contentHash } = event.data;
      if (deps.answerFromKnown && mayAnswerFromKnown(request, runOf(event))) {
        const result = await deps.answerFromKnown(event, ctx.log);
        if (result) {
          return [createEvent("verification.completed", { jobId: event.data.jobId, jobType: request.jobType, contentHash, result, attempts: ctx.attempt }, event, deps.now())];
        }
      }
      const { bytes, cid } = await deps.fetchManifest(request.manifestUri);
      const { manifest, recovered, checks } = checkManifest({ bytes, cid, uri: request.manifestUri, contentHash });
      ctx.log.debug({ contentHash, recovered, ...checks }, "manifest checked");
      return [
        createEvent(
          "manifest.checked",
          { jobId: event.data.jobId, request, contentHash, manifest, recovered, checks, attempts: ctx.attempt },
          event,
          deps.now(),
        ),
      ];
    },
  };
}
