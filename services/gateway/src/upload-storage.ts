import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import type multer from "@koa/multer";
import { putUpload, type Hold, type StoredUpload, type UploadWriter } from "@veriflow/nats";
import { checkFieldsAtFileStart, refuseUpload } from "./multipart.js";

/** The object name an upload is stored under: set on the request before multer runs. */
export const UPLOAD_NAME = Symbol("veriflow.uploadName");
/** The submission's hold (GATEWAY_HOLD_MS), set beside the name: the put spends the budget its publish shares. */
export const UPLOAD_HOLD = Symbol("veriflow.uploadHold");
export type RequestWithUpload = IncomingMessage & { [UPLOAD_NAME]?: string; [UPLOAD_HOLD]?: Hold };

export interface StoredFile {
  /** The object's name in the uploads bucket (the job id). */
  objectName: string;
  size: number;
  /** The stored object's chunk id, chunk count and SHA-256 digest (passed on to hashing). */
  nuid: string;
  chunks: number;
  digest: string;
  /** Where its entry and, for one chunk, its chunk are in the stream (hashing reads and deletes it by them). */
  entrySeq: number;
  chunkSeq: number | null;
}

/** What a put into the uploads bucket under `name` stored, as the request event names it. */
export function storedFileOf(name: string, info: StoredUpload): StoredFile {
  return { objectName: name, size: info.size, nuid: info.nuid, chunks: info.chunks, digest: info.digest, entrySeq: info.revision, chunkSeq: info.chunkSeq };
}

/**
 * A multer storage engine that streams the file part straight into the uploads bucket:
 * the file never touches the disk or sits whole in memory.
 */
export function createUploadStorage(uploads: UploadWriter, discard: (name: string) => Promise<void>): multer.StorageEngine {
  return {
    _handleFile(req, file, cb) {
      const name = (req as RequestWithUpload)[UPLOAD_NAME];
      if (!name) return cb(new Error("upload name not set"));
      try {
        checkFieldsAtFileStart(req, file);
      } catch (err) {
        return cb(err);
      }
      const stream = (file as multer.File & { stream: Readable }).stream;
      putUpload(uploads, name, stream, { fileName: file.originalname, contentType: file.mimetype }, (req as RequestWithUpload)[UPLOAD_HOLD])
        .then((info) => cb(null, storedFileOf(name, info) as unknown as multer.File))
        .catch((err: unknown) => {
          // When busboy ended the file part (a malformed or aborted body), that is the answer
          // (400), not however the store reported the put it cut short (503). The store purges
          // the chunks of a failed put: nothing is left behind.
          const why = stream.errored ?? err;
          refuseUpload(req, why);
          cb(why);
        });
    },
    _removeFile(_req, file, cb) {
      const name = (file as unknown as StoredFile).objectName;
      if (!name) return cb(null as unknown as Error);
      void discard(name).then(() => cb(null as unknown as Error));
    },
  };
}
