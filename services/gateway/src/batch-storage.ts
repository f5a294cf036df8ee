import { PassThrough, type Readable } from "node:stream";
import type multer from "@koa/multer";
import { newJobId } from "@veriflow/events";
import { HttpError, badRequest, type ErrorCode } from "@veriflow/errors";
import { putUpload, type UploadWriter } from "@veriflow/nats";
import { hashStream } from "./fallback-pipeline.js";
import { refuseUpload } from "./multipart.js";
import { storedFileOf, type StoredFile } from "./upload-storage.js";

/** The limits of one batch (GATEWAY_MAX_BATCH_FILES, GATEWAY_MAX_BATCH_BYTES) and of each of its files (GATEWAY_MAX_UPLOAD_BYTES). */
export interface BatchLimits {
  maxFiles: number;
  maxBytes: number;
  maxUploadBytes: number;
}

/** A part of a batch that will not become a job, and why. */
export interface RejectedPart {
  index: number;
  fileName: string | null;
  code: ErrorCode;
  message: string;
}

/** What the batch storage made of one file part: stored under a new job id, or refused with its reason. */
export type BatchFile =
  | ({ kind: "stored"; index: number; jobId: string; fileName: string; contentType: string | null } & StoredFile)
  | ({ kind: "rejected" } & RejectedPart);

const MAX_FILE_NAME = 255;

/** A batch file's name: plain (no path, no control character), so the job list and the CLI's summary can show it. */
export function checkBatchFileName(name: string | undefined | null): HttpError | null {
  if (!name) return badRequest("E_FILE_NAME_INVALID", "the file part has no file name: name each file (its part's filename)");
  if (name.length > MAX_FILE_NAME) return badRequest("E_FILE_NAME_INVALID", `the file name is longer than ${MAX_FILE_NAME} characters`);
  if (/[/\\\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(name) || name === "." || name === "..") {
    return badRequest("E_FILE_NAME_INVALID", `the file name ${JSON.stringify(name.slice(0, 64))} holds a path separator or a control character`);
  }
  return null;
}

/**
 * A multer storage engine for a batch: each file part is streamed into the uploads bucket
 * under a job id of its own, as a single submission's is (putUpload). A part that cannot be
 * a job (no or bad file name, larger than the per-file limit) is refused on its own: its
 * bytes are read and dropped, and the rest of the batch goes on. Past the batch's total bytes
 * the whole request is refused (413), and multer removes the files already stored.
 */
export function createBatchStorage(uploads: UploadWriter, limits: BatchLimits, discard: (name: string) => Promise<void>): multer.StorageEngine {
  const seen = new WeakMap<object, { index: number; bytes: number }>();
  return {
    _handleFile(req, file, cb) {
      const state = seen.get(req) ?? { index: 0, bytes: 0 };
      seen.set(req, state);
      const index = state.index++;
      const stream = (file as multer.File & { stream: Readable }).stream;
      const fileName = file.originalname || null;
      const reject = (err: HttpError) => {
        stream.resume(); // read and dropped: the next parts still arrive
        stream.once("end", () => cb(null, { kind: "rejected", index, fileName, code: err.code, message: err.message } satisfies BatchFile as unknown as multer.File));
      };
      const badName = checkBatchFileName(fileName);
      if (badName) return reject(badName);

      const jobId = newJobId();
      const capped = new PassThrough();
      let refused: HttpError | null = null;
      let written = 0;
      stream.on("data", (chunk: Buffer) => {
        if (refused) return;
        state.bytes += chunk.length;
        written += chunk.length;
        if (state.bytes > limits.maxBytes) {
          refused = new HttpError("E_BATCH_TOO_LARGE", `the batch's files add up to more than the ${limits.maxBytes}-byte limit; split it into several batches`);
          refuseUpload(req, refused);
        } else if (written > limits.maxUploadBytes) {
          refused = new HttpError("E_FILE_TOO_LARGE", `the file is larger than the ${limits.maxUploadBytes}-byte limit`);
        }
        if (refused) {
          capped.destroy(refused); // the put fails, and the store purges the chunks it wrote
          stream.resume(); // it may have been paused for a drain that will not come
          return;
        }
        if (!capped.write(chunk)) {
          stream.pause();
          capped.once("drain", () => stream.resume());
        }
      });
      stream.once("end", () => capped.end());
      stream.once("error", (err) => capped.destroy(err));
      putUpload(uploads, jobId, capped, { fileName, contentType: file.mimetype || null }).then(
        (info) =>
          cb(null, {
            kind: "stored",
            index,
            jobId,
            fileName: fileName!,
            contentType: file.mimetype || null,
            ...storedFileOf(jobId, info),
          } satisfies BatchFile as unknown as multer.File),
        (err: unknown) => {
          const why = refused ?? stream.errored ?? err;
          if (why instanceof HttpError && why.code === "E_FILE_TOO_LARGE") return stream.readableEnded ? cb(null, rejectedOf(index, fileName, why)) : reject(why);
          refuseUpload(req, why);
          cb(why);
        },
      );
    },
    _removeFile(_req, file, cb) {
      const f = file as unknown as BatchFile;
      if (f.kind !== "stored") return cb(null as unknown as Error);
      void discard(f.objectName).then(() => cb(null as unknown as Error));
    },
  };
}

function rejectedOf(index: number, fileName: string | null, err: HttpError): multer.File {
  return { kind: "rejected", index, fileName, code: err.code, message: err.message } satisfies BatchFile as unknown as multer.File;
}

/** A batch file hashed and dropped (a repeated Idempotency-Key is compared, never stored), with its place in the batch. */
export interface HashedBatchFile {
  index: number;
  fileName: string | null;
  contentHash: string;
  size: number;
}

export function createBatchHashingStorage(): multer.StorageEngine {
  const seen = new WeakMap<object, number>();
  return {
    _handleFile(req, file, cb) {
      const index = seen.get(req) ?? 0;
      seen.set(req, index + 1);
      hashStream((file as multer.File & { stream: Readable }).stream).then(
        (hashed) => cb(null, { index, fileName: file.originalname || null, ...hashed } satisfies HashedBatchFile as unknown as multer.File),
        (err: unknown) => cb(err as Error),
      );
    },
    _removeFile(_req, _file, cb) {
      cb(null as unknown as Error);
    },
  };
}
