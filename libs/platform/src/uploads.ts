import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { ObjectInfo, ObjectStore } from "@nats-io/obj";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { UPLOADS_BUCKET } from "@veriflow/events";
import { PermanentError, TransientError } from "./errors.js";

export type { ObjectStore };

/** Chunk size of stored uploads: fewer, larger messages stream faster (max_payload is 1 MiB by default). */
export const UPLOAD_CHUNK_BYTES = 512 * 1024;

/** Streams a Node readable into the uploads bucket without holding the file in memory. */
export async function putUpload(
  bucket: ObjectStore,
  name: string,
  source: Readable,
  meta: { fileName?: string | null; contentType?: string | null } = {},
): Promise<ObjectInfo> {
  const web = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Pull one chunk at a time: the object store awaits each publish, so memory stays flat.
      const chunk = await readChunk(source);
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
    cancel() {
      source.destroy();
    },
  });
  const h = natsHeaders();
  if (meta.fileName) h.set("x-file-name", encodeURIComponent(meta.fileName));
  if (meta.contentType) h.set("content-type", meta.contentType);
  return bucket.put({ name, options: { max_chunk_size: UPLOAD_CHUNK_BYTES }, headers: h }, web);
}

function readChunk(source: Readable): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) return resolve(chunk);
    if (source.readableEnded) return resolve(null);
    const cleanup = () => {
      source.off("readable", onReadable);
      source.off("end", onEnd);
      source.off("error", onError);
    };
    const onReadable = () => {
      const c = source.read() as Buffer | null;
      if (c !== null) {
        cleanup();
        resolve(c);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    source.on("readable", onReadable);
    source.on("end", onEnd);
    source.on("error", onError);
  });
}

export interface StreamedUpload {
  /** "0x" + lowercase hex SHA-256 of the bytes read. */
  sha256Hex: string;
  size: number;
}

/**
 * Reads an upload's chunks straight off the bucket's stream and hashes them once, in
 * order, with back-pressure (the next chunk is taken only after this one is hashed).
 * The object store's own digest is compared at the end, so a corrupt object is caught.
 */
export async function hashUpload(js: JetStreamClient, bucket: ObjectStore, name: string, onProgress?: () => void): Promise<StreamedUpload> {
  const info = await bucket.info(name).catch((err: unknown) => {
    throw new TransientError("E_UPLOAD_UNAVAILABLE", `could not read upload ${name}`, { cause: err });
  });
  if (info === null || info.deleted) {
    throw new PermanentError("E_UPLOAD_NOT_FOUND", `upload ${name} is not in the bucket (expired or removed)`);
  }
  const hash = createHash("sha256");
  let size = 0;
  if (info.size > 0) {
    const stream = `OBJ_${UPLOADS_BUCKET}`;
    const consumer = await js.consumers.getPushConsumer(stream, {
      // The same ordered push consumer the object store's own get() uses (works on 2.9).
      filter_subject: `$O.${UPLOADS_BUCKET}.C.${info.nuid}`,
      idle_heartbeat: 30_000_000_000,
      flow_control: true,
    } as never);
    const messages = await consumer.consume();
    try {
      for await (const m of messages) {
        if (m.data.length > 0) {
          hash.update(m.data);
          size += m.data.length;
          onProgress?.();
        }
        if (m.info.pending === 0) break;
      }
    } finally {
      await messages.close().catch(() => {});
    }
  }
  const digest = hash.digest();
  const expected = info.digest.startsWith("SHA-256=") ? info.digest.slice(8) : null;
  if (expected !== null && digest.toString("base64url") !== expected.replace(/=+$/, "")) {
    throw new TransientError("E_UPLOAD_CORRUPT", `upload ${name} does not match its stored digest`);
  }
  if (size !== info.size) throw new TransientError("E_UPLOAD_CORRUPT", `upload ${name}: read ${size} of ${info.size} bytes`);
  return { sha256Hex: `0x${digest.toString("hex")}`, size };
}
