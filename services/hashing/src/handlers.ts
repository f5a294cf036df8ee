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
  const upload = event.data.upload;
  return upload !== null && upload.name === event.data.jobId ? upload : null;
}

/**
 * The hash a request gives instead of an upload (a watch, POST /api/watches): passed on as
 * it is, lower-cased, with nothing read. Undefined for an upload's request; a request with
 * neither (or both) is not one the gateway sends.
 */
function givenHash(event: Envelope<"verification.requested">): string | undefined {
  const { contentHash, upload } = event.data;
  if (contentHash === undefined && upload !== null) return undefined;
  if (contentHash !== undefined && upload === null) return contentHash.toLowerCase();
  throw new PermanentError("E_INVALID_ARGUMENT", "the request must name an upload or give a content hash, exactly one of them");
}

export function createHandlers(deps: HashingDeps) {
  return {
    async onVerificationRequested(event: Envelope<"verification.requested">, ctx: HandlerContext): Promise<Envelope<"content.hashed">[]> {
      const startedAt = deps.now().toISOString();
      const given = givenHash(event);
      if (given !== undefined) {
        ctx.log.debug({ contentHash: given }, "hash given");
        const data = { jobId: event.data.jobId, request: event.data.request, contentHash: given, size: 0, startedAt, attempts: ctx.attempt, hashGiven: true as const };
        return [createEvent("content.hashed", data, event, deps.now())];
      }
      const upload = ownUpload(event);
      if (!upload) {
        const named = JSON.stringify(event.data.upload!.name.slice(0, 64));
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
