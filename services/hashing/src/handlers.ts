import { createEvent, type Envelope } from "@veriflow/events";
import { PermanentError } from "@veriflow/errors";
import type { HandlerContext, UploadRef } from "@veriflow/pipeline";

export interface HashingDeps {
  /** Reads the named upload and returns its SHA-256 (hex, 0x-prefixed) and size. */
  hashUpload(upload: UploadRef): Promise<{ sha256Hex: string; size: number }>;
  now(): Date;
}

/**
 * The upload a request may read, and have removed once done: the one stored under its job id,
 * as the gateway stores every upload (REST, gRPC, its in-process fallback). A request naming
 * another (published past the gateway) would read another job's file, then delete it; null then.
 */
export function ownUpload(event: Envelope<"verification.requested">): UploadRef | null {
  return event.data.upload.name === event.data.jobId ? event.data.upload : null;
}

export function createHandlers(deps: HashingDeps) {
  return {
    async onVerificationRequested(event: Envelope<"verification.requested">, ctx: HandlerContext): Promise<Envelope<"content.hashed">[]> {
      const startedAt = deps.now().toISOString();
      const upload = ownUpload(event);
      if (!upload) {
        const named = JSON.stringify(event.data.upload.name.slice(0, 64));
        throw new PermanentError("E_INVALID_ARGUMENT", `the request names upload ${named}, not its job's own (uploads are stored under the job id, ${event.data.jobId})`);
      }
      const { sha256Hex, size } = await deps.hashUpload(upload);
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
