import { createEvent, runOf, type Envelope, type KnownVerdictPointer } from "@veriflow/events";
import type { HandlerContext } from "@veriflow/pipeline";
import type { Logger } from "@veriflow/platform";
import { checkManifest, mayAnswerFromKnown } from "@veriflow/verify";

export interface ManifestDeps {
  /** Fetches the manifest's bytes (CID-checked for ipfs://); throws Permanent/TransientError. */
  fetchManifest(uri: string): Promise<{ bytes: Uint8Array; cid: string | null }>;
  /**
   * The record of a verdict the job's question already has, still current (createKnownAnswers,
   * @veriflow/adapters); null: decide afresh. Absent where no verdicts are kept (the gateway's
   * in-process fallback).
   */
  findKnown?(event: Envelope<"content.hashed">, log: Logger): Promise<Omit<KnownVerdictPointer, "hashed"> | null>;
  now(): Date;
}

export function createHandlers(deps: ManifestDeps) {
  return {
    async onContentHashed(event: Envelope<"content.hashed">, ctx: HandlerContext): Promise<Envelope<"manifest.checked">[]> {
      const { jobId, request, contentHash } = event.data;
      if (deps.findKnown && mayAnswerFromKnown(request, runOf(event))) {
        const known = await deps.findKnown(event, ctx.log);
        // Not a verdict: a pointer chain-check reads and confirms itself (only it states verdicts).
        // The saving is the fetch; the hashed facts let chain-check send the job back as it came.
        if (known) {
          const { size, startedAt, hashGiven } = event.data;
          const pointer: KnownVerdictPointer = { jobId: known.jobId, run: known.run, decidedAtBlock: known.decidedAtBlock, hashed: { size, startedAt, ...(hashGiven ? { hashGiven } : {}) } };
          ctx.log.debug({ contentHash, reusedFrom: known.jobId }, "known verdict applies; manifest not fetched");
          return [createEvent("manifest.checked", { jobId, request, contentHash, known: pointer, attempts: ctx.attempt }, event, deps.now())];
        }
      }
      const { bytes, cid } = await deps.fetchManifest(request.manifestUri);
      const { manifest, recovered, checks } = checkManifest({ bytes, cid, uri: request.manifestUri, contentHash });
      ctx.log.debug({ contentHash, recovered, ...checks }, "manifest checked");
      return [createEvent("manifest.checked", { jobId, request, contentHash, manifest, recovered, checks, attempts: ctx.attempt }, event, deps.now())];
    },
  };
}
