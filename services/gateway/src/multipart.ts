import multer from "@koa/multer";
import type { Context } from "koa";
import { HttpError } from "@veriflow/errors";

/**
 * Receiving a submission's multipart body, the same way on every path (queued or
 * in-process): the limits, the 415 for another media type, the mapping of multer's
 * errors to 4xx answers, and the 400 when the file part is missing.
 */

/** Creates the multer instance of one path; only where the file part goes differs. */
export function createMultipart(storage: multer.StorageEngine, maxUploadBytes: number): multer.Instance {
  return multer({ storage, limits: { fileSize: maxUploadBytes, files: 1, fields: 16, fieldSize: 16 * 1024, parts: 24 } });
}

export interface ReceivedUpload<F> {
  /** What the storage engine made of the file part, plus multer's name and type. */
  file: F & { originalname: string; mimetype: string };
  fields: Record<string, unknown>;
}

/** Reads the body through `upload`: the one `file` part and the text fields. */
export async function receiveUpload<F>(ctx: Context, upload: multer.Instance, maxUploadBytes: number): Promise<ReceivedUpload<F>> {
  if (!ctx.is("multipart/form-data")) {
    throw new HttpError(415, "E_UNSUPPORTED_MEDIA_TYPE", 'send multipart/form-data with a "file" part and the fields registryAddress, manifestURI');
  }
  try {
    await upload.single("file")(ctx, async () => {});
  } catch (err) {
    throw uploadError(err, maxUploadBytes);
  }
  const file = ctx.file as unknown as ReceivedUpload<F>["file"] | undefined;
  if (!file) throw new HttpError(400, "E_FILE_REQUIRED", 'a file is required in the multipart field "file"');
  return { file, fields: ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown> };
}

/** Maps multer's limit errors to 4xx answers a client can act on. */
export function uploadError(err: unknown, maxUploadBytes: number): unknown {
  const code = (err as { code?: string }).code;
  if (code === "LIMIT_FILE_SIZE") return new HttpError(413, "E_FILE_TOO_LARGE", `the file is larger than the ${maxUploadBytes}-byte limit`);
  if (code === "LIMIT_UNEXPECTED_FILE") return new HttpError(400, "E_UNEXPECTED_FILE", 'send exactly one file, in the field named "file"');
  if (typeof code === "string" && code.startsWith("LIMIT_")) return new HttpError(400, "E_BAD_MULTIPART", `multipart limit exceeded: ${(err as Error).message}`);
  if (err instanceof Error && /Unexpected end of form|Malformed part header|Multipart: Boundary not found/i.test(err.message)) {
    return new HttpError(400, "E_BAD_MULTIPART", `the multipart body is malformed: ${err.message}`);
  }
  if (err instanceof Error && /request aborted/i.test(err.message)) return new HttpError(400, "E_UPLOAD_ABORTED", "the upload was aborted before it finished");
  return new HttpError(503, "E_STORAGE_UNAVAILABLE", "the upload could not be stored; try again shortly", { cause: err, expose: true });
}
