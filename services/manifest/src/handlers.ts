import { createEvent, type AnyEnvelope, type Envelope } from "@veriflow/events";
import type { HandlerContext } from "@veriflow/platform";
import { parseDid, parseManifest, recoverSigner, sameHash, summarizeManifest } from "@veriflow/verify";

export interface ManifestDeps {
  /** Fetches the manifest's bytes (CID-checked for ipfs://); throws Permanent/TransientError. */
  fetchManifest(uri: string): Promise<{ bytes: Uint8Array; cid: string | null }>;
  now(): Date;
}

export function createHandlers(deps: ManifestDeps) {
  return {
    async onContentHashed(event: Envelope<"content.hashed">, ctx: HandlerContext): Promise<AnyEnvelope[]> {
      const { request, contentHash } = event.data;
      const { bytes, cid } = await deps.fetchManifest(request.manifestUri);
      const manifest = parseManifest(bytes);
      // Only content_hash is signed (EIP-191 over its 32 raw bytes).
      const recovered = recoverSigner(manifest.content_hash, manifest.signature);
      const didAddress = parseDid(manifest.creator_did).address;
      const checks = {
        manifestHashOk: sameHash(manifest.content_hash, contentHash),
        signatureOk: recovered !== null,
        didOk: recovered !== null && didAddress.toLowerCase() === recovered.toLowerCase(),
      };
      ctx.log.debug({ contentHash, recovered, ...checks }, "manifest checked");
      return [
        createEvent(
          "manifest.checked",
          {
            jobId: event.data.jobId,
            request,
            contentHash,
            manifest: summarizeManifest(manifest, request.manifestUri, cid),
            recovered,
            checks,
            attempts: ctx.attempt,
          },
          event,
          deps.now(),
        ),
      ];
    },
  };
}
