import type { IncomingMessage } from "node:http";
import type { Writable } from "node:stream";
import multer from "@koa/multer";
import type { Context } from "koa";
import { HttpError } from "@veriflow/errors";
import { checkTextField } from "@veriflow/http";
import { isStorageFullError } from "@veriflow/nats";
import { createFramingCheck } from "./multipart-framing.js";

/**
 * Receiving a submission's multipart body, the same way on every path (queued or
 * in-process): the limits, the 415 for another media type, the mapping of multer's
 * errors to 4xx answers, and the 400 when the file part is missing.
 */

/** Creates the multer instance of one path; only where the file part goes differs. */
export function createMultipart(storage: multer.StorageEngine, maxUploadBytes: number): multer.Instance {
  return multer({
    storage,
    limits: { fileSize: maxUploadBytes, files: 1, fields: 16, fieldSize: 16 * 1024, parts: 24 },
    streamHandler: feedWithFramingCheck,
  } as multer.Options);
}

/**
 * A batch's multer instance: up to `maxFiles` file parts and a manifestURI field for each.
 * The per-file size limit is the storage engine's (batch-storage.ts), which refuses that file
 * alone; multer's own would abort the whole body.
 */
export function createBatchMultipart(storage: multer.StorageEngine, maxFiles: number): multer.Instance {
  return multer({
    storage,
    limits: { files: maxFiles, fields: maxFiles + 16, fieldSize: 16 * 1024, parts: 2 * maxFiles + 24 },
    streamHandler: feedWithFramingCheck,
  } as multer.Options);
}

/**
 * multer's default feed (`req.pipe(busboy)`), with createFramingCheck watching each chunk
 * before busboy gets it: a body busboy would half-accept (bytes before the first delimiter,
 * a part without a name) is answered at once, and busboy is stopped with the same error, so
 * multer aborts as it does for its own errors: it removes a file part already stored, and
 * one being stored fails (the store purges its chunks).
 */
function feedWithFramingCheck(req: IncomingMessage, busboy: Writable): void {
  const boundary = boundaryOf(req.headers["content-type"]);
  if (boundary !== null) {
    const check = createFramingCheck(boundary, (message) => {
      const err = new HttpError("E_BAD_MULTIPART", `the multipart body is malformed: ${message}`);
      refuseUpload(req, err);
      req.unpipe(busboy);
      busboy.destroy(err);
    });
    req.on("data", check);
  }
  req.pipe(busboy);
}

/** The boundary parameter of a multipart Content-Type (RFC 2046: a token or a quoted string), or null. */
function boundaryOf(contentType: string | undefined): string | null {
  const m = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))/i.exec(contentType ?? "");
  if (!m) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!;
}

export interface ReceivedUpload<F> {
  /** What the storage engine made of the file part, plus multer's name and type. */
  file: F & { originalname: string; mimetype: string };
  fields: Record<string, unknown>;
}

/** Checks the fields received so far; throws the answer that refuses the upload. */
export type FieldsCheck = (fieldsSoFar: Record<string, unknown>) => void;

const FIELDS_CHECK = Symbol("veriflow.fieldsCheck");
const REFUSE = Symbol("veriflow.refuseUpload");
const REFUSED = Symbol("veriflow.refusedWith");
type ReceivingRequest = IncomingMessage & {
  [FIELDS_CHECK]?: FieldsCheck;
  [REFUSE]?: (err: unknown) => void;
  /** Why the request was refused: a file part that starts later is not stored. */
  [REFUSED]?: Error;
  body?: Record<string, unknown>;
};

/**
 * Called by a storage engine when the file part starts, before it stores or hashes a
 * byte: multer has put the fields sent before the file part in `req.body`. A bad field,
 * file name or file type refuses the upload now, not after the whole file is stored.
 * Fields sent after the file are checked once the body is read.
 */
export function checkFieldsAtFileStart(req: IncomingMessage, file: { originalname?: string; mimetype?: string }): void {
  const r = req as ReceivingRequest;
  if (r[REFUSED] !== undefined) throw r[REFUSED];
  try {
    checkTextField("fileName", file.originalname);
    checkTextField("contentType", file.mimetype);
    r[FIELDS_CHECK]?.(r.body ?? {});
  } catch (err) {
    refuseUpload(req, err);
    throw err;
  }
}

/**
 * A storage engine gave up on the file part (a field refused, the bucket full): answer now.
 * multer itself would first read the rest of the body, however large, and only then report.
 */
export function refuseUpload(req: IncomingMessage, err: unknown): void {
  const r = req as ReceivingRequest;
  r[REFUSED] ??= err instanceof Error ? err : new Error(String(err));
  r[REFUSE]?.(err);
}

/** Reads the body through `upload`: the one `file` part and the text fields. */
export async function receiveUpload<F>(ctx: Context, upload: multer.Instance, maxUploadBytes: number, checkFields?: FieldsCheck): Promise<ReceivedUpload<F>> {
  await receiveBody(ctx, upload.single("file"), checkFields, (err) => uploadError(err, maxUploadBytes));
  const file = ctx.file as unknown as ReceivedUpload<F>["file"] | undefined;
  if (!file) throw new HttpError("E_FILE_REQUIRED", 'a file is required in the multipart field "file"');
  return { file, fields: ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown> };
}

/**
 * Reads a batch's body through `upload` (several `file` parts, `maxFiles` at most): what the
 * storage engine made of each file part, in the order they came, and the text fields.
 */
export async function receiveBatch<F>(ctx: Context, upload: multer.Instance, limits: { maxFiles: number; maxUploadBytes: number }): Promise<{ files: F[]; fields: Record<string, unknown> }> {
  await receiveBody(ctx, upload.array("file"), undefined, (err) =>
    multerCode(err) === "LIMIT_FILE_COUNT"
      ? new HttpError("E_BATCH_TOO_MANY_FILES", `the batch holds more than ${limits.maxFiles} files; split it into several batches`)
      : uploadError(err, limits.maxUploadBytes),
  );
  const files = ((ctx as { files?: unknown }).files ?? []) as F[];
  return { files, fields: ((ctx.request as { body?: unknown }).body ?? {}) as Record<string, unknown> };
}

/** Runs multer's middleware over the body, answering a refusal (a bad field, a full bucket) before the body ends. */
async function receiveBody(ctx: Context, middleware: ReturnType<multer.Instance["single"]>, checkFields: FieldsCheck | undefined, toAnswer: (err: unknown) => unknown): Promise<void> {
  if (!ctx.is("multipart/form-data")) {
    throw new HttpError("E_UNSUPPORTED_MEDIA_TYPE", 'send multipart/form-data with a "file" part and the fields registryAddress, manifestURI');
  }
  const req = ctx.req as ReceivingRequest;
  req[FIELDS_CHECK] = checkFields;
  const refused = new Promise<never>((_, reject) => (req[REFUSE] = reject));
  const parsing = middleware(ctx, async () => {});
  parsing.catch(() => {}); // when refused early, multer reports the same error once the body is drained
  try {
    await Promise.race([parsing, refused]);
  } catch (err) {
    // Refused before the body ended (a bad field, a full bucket): close the connection after
    // the answer instead of reading the rest of a body nobody will store.
    if (!ctx.req.complete) ctx.set("connection", "close");
    throw toAnswer(err);
  }
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
  if (err instanceof HttpError) return err; // a storage engine's own answer (a field refused at the file's start)
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
  if ((err as { code?: unknown } | null)?.code === "ERR_STREAM_PREMATURE_CLOSE") return new HttpError("E_UPLOAD_ABORTED", "the upload was aborted before it finished");
  if (isStorageFullError(err)) return storageFull(err);
  return new HttpError("E_STORAGE_UNAVAILABLE", "the upload could not be stored; try again shortly", { cause: err, expose: true });
}

/** The uploads bucket (or JetStream's store) is full: nothing was kept; hashing frees room as it goes. */
export function storageFull(cause: unknown): HttpError {
  return new HttpError("E_STORAGE_FULL", "the uploads bucket is full; send it again later", { cause, expose: true, retryAfterSeconds: 10 });
}
