import type { UploadReader } from "@veriflow/pipeline";
import type { NatsClients } from "./nats.js";
import type { UploadFollower } from "./upload-follower.js";
import { deleteCheckedUpload, type CheckedUpload } from "./upload-seqs.js";
import { deleteUpload, hashUpload, type ObjectStore } from "./uploads.js";

/**
 * How many uploads a reader remembers between hashing and releasing them; past it the oldest
 * is forgotten, and its release looks its messages up (as for an older request). A release
 * follows its hash within the same delivery, so only uploads whose hash could not be
 * published (retried later, perhaps on another replica) linger here.
 */
const CHECKED_UPLOADS_KEPT = 4096;

/**
 * Uploads as a stage reads them in its own service: the uploads bucket. What hash() read at
 * sequences it checked (upload-seqs.ts), release() deletes at those sequences, with no
 * lookups; anything else (an older request, a job given up on before its upload was read, a
 * redelivery whose outcome was already stored) is deleted by looking its messages up. Large
 * uploads go on from what `follower` read while they were stored, if given (upload-follower.ts).
 */
export function createBucketUploads(nats: NatsClients, bucket: ObjectStore, follower?: UploadFollower | null): UploadReader {
  const checked = new Map<string, CheckedUpload>();
  return {
    async hash(upload) {
      const read = await hashUpload(nats.js, nats.jsm, bucket, upload, { follower });
      checked.delete(upload.name);
      if (read.checked) {
        if (checked.size >= CHECKED_UPLOADS_KEPT) checked.delete(checked.keys().next().value!);
        checked.set(upload.name, read.checked);
      }
      return { sha256Hex: read.sha256Hex, size: read.size };
    },
    release(upload) {
      const seen = checked.get(upload.name);
      checked.delete(upload.name);
      return seen !== undefined && seen.nuid === upload.nuid ? deleteCheckedUpload(nats.jsm, seen) : deleteUpload(nats.jsm, upload);
    },
  };
}
