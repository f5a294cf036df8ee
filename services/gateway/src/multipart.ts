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
    throw new HttpError("E_UNSUPPORTED_MEDIA_TYPE", 'send multipart/form-data with a "file" part and the fields registryAddress, manifestURI');
  }
  try {
    await upload.single("file")(ctx, async () => {});
  } catch (err) {
    throw uploadError(err, maxUploadBytes);
  }
  const file = ctx.file as unknown as ReceivedUpload<F>["file"] | undefined;
  if (!file) throw new HttpError("E_FILE_REQUIRED", 'a file is required in the multipart field "file"');
  return { file, fields: ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown> };
}

/**
 * multer's own errors are MulterError with a `code` (LIMIT_FILE_SIZE, LIMIT_UNEXPECTED_FILE,
 * other LIMIT_*, MISSING_FIELD_NAME, INVALID_FIELD_NAME, STREAM_DESTROYED). Its class is not
 * in the typings we have (@types/koa__multer), so it is known by the name multer gives it.
 */
function multerCode(err: unknown): string | undefined {
  const e = err as { name?: unknown; code?: unknown } | null;
  return err instanceof Error && e?.name === "MulterError" && typeof e.code === "string" ? e.code : undefined;
}

/**
 * busboy (under multer) rejects a malformed body with a plain Error and nothing but a
 * message, and multer reports a request that ended early the same way; these messages
 * are the only way to tell them from a storage failure, so they are matched here and
 * nowhere else (busboy 1.6 lib/types/multipart.js and lib/index.js, multer 2 make-middleware.js).
 */
const BUSBOY_MALFORMED = new Set([
  "Unexpected end of form",
  "Unexpected end of file",
  "Malformed part header",
  "Multipart: Boundary not found",
  "Malformed content type",
]);
const MULTER_ABORTED = new Set(["Request aborted", "Request closed"]);

/** Maps what multer, busboy or the storage engine rejected an upload with to an answer a client can act on. */
export function uploadError(err: unknown, maxUploadBytes: number): unknown {
  const code = multerCode(err);
  if (code === "LIMIT_FILE_SIZE") return new HttpError("E_FILE_TOO_LARGE", `the file is larger than the ${maxUploadBytes}-byte limit`);
  if (code === "LIMIT_UNEXPECTED_FILE") return new HttpError("E_UNEXPECTED_FILE", 'send exactly one file, in the field named "file"');
  if (code === "STREAM_DESTROYED") return new HttpError("E_UPLOAD_ABORTED", "the upload was aborted before it finished");
  if (code?.startsWith("LIMIT_")) return new HttpError("E_BAD_MULTIPART", `multipart limit exceeded: ${(err as Error).message}`);
  if (code !== undefined) return new HttpError("E_BAD_MULTIPART", `the multipart body is malformed: ${(err as Error).message}`);
  if (err instanceof Error && BUSBOY_MALFORMED.has(err.message)) {
    return new HttpError("E_BAD_MULTIPART", `the multipart body is malformed: ${err.message}`);
  }
  if (err instanceof Error && MULTER_ABORTED.has(err.message)) return new HttpError("E_UPLOAD_ABORTED", "the upload was aborted before it finished");
  return new HttpError("E_STORAGE_UNAVAILABLE", "the upload could not be stored; try again shortly", { cause: err, expose: true });
}
