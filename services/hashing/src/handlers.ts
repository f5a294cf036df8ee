import { createEvent, type Envelope } from "@veriflow/events";
import type { HandlerContext, UploadRef } from "@veriflow/pipeline";

export interface HashingDeps {
  /** Reads the named upload and returns its SHA-256 (hex, 0x-prefixed) and size. */
  hashUpload(upload: UploadRef): Promise<{ sha256Hex: string; size: number }>;
  now(): Date;
}

export function createHandlers(deps: HashingDeps) {
  return {
    async onVerificationRequested(event: Envelope<"verification.requested">, ctx: HandlerContext): Promise<Envelope<"content.hashed">[]> {
      const startedAt = deps.now().toISOString();
      const { sha256Hex, size } = await deps.hashUpload(event.data.upload);
      ctx.log.debug({ contentHash: sha256Hex, size }, "hashed");
      return [
        createEvent(
          "content.hashed",
          {
            jobId: event.data.jobId,
            request: event.data.request,
            contentHash: sha256Hex,
            size,
            startedAt,
            attempts: ctx.attempt,
          },
          event,
          deps.now(),
        ),
      ];
    },
  };
}
