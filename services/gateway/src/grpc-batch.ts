import { newJobId, jobTypes, type JobType } from "@veriflow/events";
import { invalidArgument, type BatchMetadata__Output, type Rpc, type SubmitBatchRequest__Output, type SubmitBatchResponse } from "@veriflow/grpc";
import { HttpError } from "@veriflow/errors";
import { presentedApiKey } from "@veriflow/http";
import { Readable } from "node:stream";
import { isStorageFullError, putUpload } from "@veriflow/nats";
import { bulkUploads, discardUpload, type AcceptDeps } from "./accept-submission.js";
import type { Admission } from "./admission.js";
import { checkBatchFileName, type BatchLimits } from "./batch-storage.js";
import { acceptBatch, batchFingerprint, type BatchAnswer, type BatchItem } from "./batch-submission.js";
import { hashStream } from "./fallback-pipeline.js";
import { metadataReader, nextMessage, withIdleTimeout } from "./grpc-submission.js";
import { IDEMPOTENCY_KEY_HEADER, contentHashOfDigest, keyReused, readIdempotencyKey, type Idempotency } from "./idempotency.js";
import { storageFull } from "./multipart.js";
import { parseBatchFields } from "./submission.js";
import { storedFileOf } from "./upload-storage.js";

export interface BatchServiceDeps extends AcceptDeps {
  rpc: Rpc;
  admission: Admission;
  idempotency: Idempotency;
  batchLimits: BatchLimits;
  uploadIdleTimeoutMs: number;
}

type Message = SubmitBatchRequest__Output;
const JOB_TYPES: Record<string, JobType> = { JOB_TYPE_UNSPECIFIED: "verify", JOB_TYPE_VERIFY: "verify", JOB_TYPE_PROOF: "proof" };

/** The messages of a call, with one message of look-ahead: a file's chunks end where the next `file` header (or the call) starts. */
class Messages {
  private held: IteratorResult<Message> | null = null;
  constructor(private readonly it: AsyncIterator<Message>, private readonly signal: AbortSignal) {}
  async next(): Promise<IteratorResult<Message>> {
    const held = this.held;
    this.held = null;
    return held ?? nextMessage(this.it, this.signal);
  }
  hold(r: IteratorResult<Message>): void {
    this.held = r;
  }
}

/**
 * SubmissionService.SubmitBatch: `metadata`, then per file a `file` header and its chunks,
 * each file streamed into the uploads bucket as it arrives and queued through acceptBatch,
 * the same path as REST's batches (and, per file, as a single submission).
 */
export function createSubmitBatch(deps: BatchServiceDeps) {
  return deps.rpc.clientStream<Message, SubmitBatchResponse>("submit", async (messagesIn, ctx) => {
    const messages = new Messages(withIdleTimeout(messagesIn[Symbol.asyncIterator](), deps.uploadIdleTimeoutMs), ctx.signal);
    const first = await messages.next();
    if (first.done || first.value.part !== "metadata" || !first.value.metadata) {
      throw invalidArgument("E_METADATA_REQUIRED", "the first message must be `metadata` (type, registry_address)");
    }
    const meta = first.value.metadata;
    const jobType = JOB_TYPES[meta.type];
    if (!jobType) throw invalidArgument("E_INVALID_JOB_TYPE", `metadata.type must be one of ${jobTypes.join(", ")}`);
    const shared = parseBatchFields(fieldsOf(meta), deps.policy);
    const header = metadataReader(ctx.metadata);
    const key = readIdempotencyKey(header(IDEMPOTENCY_KEY_HEADER));
    const slot = key === undefined ? undefined : await deps.idempotency.begin<BatchAnswer>(presentedApiKey(header), key);
    if (slot?.kind === "done") {
      const files = await hashFiles(messages, deps.batchLimits);
      if (batchFingerprint(jobType, shared, files) !== slot.record.fingerprint) throw keyReused();
      return asResponse(slot.record.accepted);
    }
    try {
      // A batch's jobs are bulk: judged against the bulk backlog only.
      await deps.admission.check(undefined, "bulk");
      const items = await storeFiles(deps, messages);
      const answer = await acceptBatch(deps, { batchId: newJobId(), jobType, shared, items, tenant: ctx.principal.tenant, trace: ctx.trace });
      deps.admission.accepted("bulk", answer.jobs.length);
      const facts = items.map((i) => ({ fileName: i.fileName, manifestUri: i.kind === "stored" ? i.manifestUri : undefined, contentHash: i.kind === "stored" ? i.contentHash : null, size: i.kind === "stored" ? i.upload.size : null }));
      if (slot) await slot.complete(batchFingerprint(jobType, shared, facts), answer);
      return asResponse(answer);
    } catch (err) {
      await slot?.release();
      throw err;
    }
  });
}

const fieldsOf = (m: BatchMetadata__Output) => ({
  registryAddress: m.registryAddress,
  ...(m.rpcUrl ? { rpcUrl: m.rpcUrl } : {}),
  ...(m.callbackUrl ? { callbackUrl: m.callbackUrl } : {}),
  ...(m.fresh === true ? { fresh: "true" } : {}),
});

const asResponse = (a: BatchAnswer): SubmitBatchResponse => ({ batchId: a.batchId, pollUrl: a.pollUrl, jobs: a.jobs, rejected: a.rejected.map((r) => ({ ...r, fileName: r.fileName ?? "" })) });

/** The `file` header of the next file, or null at the end of the call. */
async function nextFile(messages: Messages, index: number, limits: BatchLimits) {
  const r = await messages.next();
  if (r.done) return null;
  if (r.value.part !== "file" || !r.value.file) throw invalidArgument("E_UNEXPECTED_METADATA", "after `metadata`, send each file as a `file` header followed by its `chunk` messages");
  if (index >= limits.maxFiles) throw new HttpError("E_BATCH_TOO_MANY_FILES", `the batch holds more than ${limits.maxFiles} files; split it into several batches`);
  return r.value.file;
}

/** One file's chunks, up to the next header; past `maxBytes` it throws `tooLarge()`, and the rest of the file is skipped by `skip`. */
async function* chunksOf(messages: Messages, counted: { size: number; total: number }, limits: BatchLimits): AsyncGenerator<Buffer> {
  for (;;) {
    const r = await messages.next();
    if (r.done || r.value.part !== "chunk") return messages.hold(r);
    const chunk = r.value.chunk ?? Buffer.alloc(0);
    counted.size += chunk.length;
    counted.total += chunk.length;
    if (counted.total > limits.maxBytes) throw new HttpError("E_BATCH_TOO_LARGE", `the batch's files add up to more than the ${limits.maxBytes}-byte limit; split it into several batches`);
    if (counted.size > limits.maxUploadBytes) throw new HttpError("E_FILE_TOO_LARGE", `the file is larger than the ${limits.maxUploadBytes}-byte limit`);
    if (chunk.length > 0) yield chunk;
  }
}

async function skipChunks(messages: Messages, counted: { total: number }, limits: BatchLimits): Promise<void> {
  for await (const _ of chunksOf(messages, { size: -Infinity, total: counted.total }, limits));
}

/** Stores each file under a job id of its own; a bad name or a file too large is rejected alone, past the batch's limits the call fails (files stored so far removed). */
async function storeFiles(deps: BatchServiceDeps, messages: Messages): Promise<BatchItem[]> {
  const limits = deps.batchLimits;
  const items: BatchItem[] = [];
  const counted = { size: 0, total: 0 };
  try {
    for (let index = 0; ; index++) {
      const file = await nextFile(messages, index, limits);
      if (!file) return items;
      const fileName = file.fileName || null;
      const badName = checkBatchFileName(fileName);
      if (badName) {
        await skipChunks(messages, counted, limits);
        items.push({ kind: "rejected", index, fileName, code: badName.code, message: badName.message });
        continue;
      }
      const jobId = newJobId();
      counted.size = 0;
      try {
        const info = await putUpload(bulkUploads(deps), jobId, Readable.from(chunksOf(messages, counted, limits)), { fileName, contentType: file.contentType || null });
        const upload = { ...storedFileOf(jobId, info), fileName, contentType: file.contentType || null };
        items.push({ kind: "stored", index, jobId, fileName: fileName!, manifestUri: file.manifestUri || undefined, contentHash: contentHashOfDigest(info.digest), upload });
      } catch (err) {
        await discardUpload(deps, jobId);
        if (!(err instanceof HttpError) || err.code !== "E_FILE_TOO_LARGE") throw storeError(err);
        await skipChunks(messages, counted, limits);
        items.push({ kind: "rejected", index, fileName, code: err.code, message: err.message });
      }
    }
  } catch (err) {
    await Promise.all(items.flatMap((i) => (i.kind === "stored" ? [discardUpload(deps, i.upload.objectName, i.upload)] : [])));
    throw err;
  }
}

function storeError(err: unknown): unknown {
  if (err instanceof HttpError) return err;
  if (isStorageFullError(err)) return storageFull(err);
  return new HttpError("E_STORAGE_UNAVAILABLE", "the upload could not be stored; try again shortly", { cause: err, expose: true });
}

/** A repeated Idempotency-Key: each file hashed and dropped, for the fingerprint. */
async function hashFiles(messages: Messages, limits: BatchLimits) {
  const files: { fileName: string | null; manifestUri: string | undefined; contentHash: string | null; size: number | null }[] = [];
  const counted = { size: 0, total: 0 };
  for (let index = 0; ; index++) {
    const file = await nextFile(messages, index, limits);
    if (!file) return files;
    counted.size = 0;
    const hashed = await hashStream(chunksOf(messages, counted, limits));
    files.push({ fileName: file.fileName || null, manifestUri: file.manifestUri || undefined, ...hashed });
  }
}
