import { createEvent, type Envelope } from "@veriflow/events";
import type { HandlerContext } from "@veriflow/pipeline";
import { checkManifest } from "@veriflow/verify";

export interface ManifestDeps {
  /** Fetches the manifest's bytes (CID-checked for ipfs://); throws Permanent/TransientError. */
  fetchManifest(uri: string): Promise<{ bytes: Uint8Array; cid: string | null }>;
  now(): Date;
}

export function createHandlers(deps: ManifestDeps) {
  return {
    async onContentHashed(event: Envelope<"content.hashed">, ctx: HandlerContext): Promise<Envelope<"manifest.checked">[]> {
      const { request, contentHash } = event.data;
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
