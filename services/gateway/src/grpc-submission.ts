import { Readable } from "node:stream";
import type { Scope } from "@veriflow/auth";
import type { Context } from "@veriflow/tracing";
import { newJobId, type JobRequest, type JobType } from "@veriflow/events";
import { invalidArgument, toProtoVerdict, type CreateWatchRequest__Output, type CreateWatchResponse, type Rpc, type SubmissionMetadata__Output, type SubmissionServiceHandlers, type SubmitVerificationRequest__Output, type SubmitVerificationResponse } from "@veriflow/grpc";
import { HttpError } from "@veriflow/errors";
import { checkTextField, presentedApiKey } from "@veriflow/http";
import { isStorageFullError, putUpload, type Hold } from "@veriflow/nats";
import { noteHeld } from "./held-submissions.js";
import { acceptSubmission, discardUpload, type AcceptDeps, type Accepted } from "./accept-submission.js";
import type { Admission } from "./admission.js";
import { defaultPriority } from "./job-priority.js";
import { fallbackAnswer, hashStream, type FallbackPipeline, type HashedFile } from "./fallback-pipeline.js";
import { IDEMPOTENCY_KEY_HEADER, contentHashOfDigest, keyReused, readIdempotencyKey, requestFingerprint, type Idempotency } from "./idempotency.js";
import { storageFull } from "./multipart.js";
import type { QueueHealth } from "./queue-health.js";
import { settlePriority } from "./job-priority.js";
import { parseSubmission } from "./submission.js";
import { storedFileOf } from "./upload-storage.js";
import type { BatchLimits } from "./batch-storage.js";
import { createSubmitBatch } from "./grpc-batch.js";
import { submitWatch } from "./watch-submission.js";

export interface SubmissionServiceDeps extends AcceptDeps {
  /** Files and bytes per batch (SubmitBatch). */
  batchLimits: BatchLimits;
  rpc: Rpc;
  /** Whether the queue can take a job now (backlog, full stores), shared with REST. */
  admission: Admission;
  /** Idempotency-Key records (the `idempotency-key` metadata), shared with REST. */
  idempotency: Idempotency;
  maxUploadBytes: number;
  /** The longest the upload may go without a message (GRPC_UPLOAD_IDLE_TIMEOUT_MS): a stalled client frees its handler and its partial upload. */
  uploadIdleTimeoutMs: number;
  /** Whether submissions go through the queue or the in-process fallback (shared with REST). */
  health: QueueHealth;
  fallback: FallbackPipeline;
  /** Bound of an in-process verification (GATEWAY_SYNC_TIMEOUT_MS). */
  syncTimeoutMs: number;
}

const JOB_TYPES: Record<string, JobType> = { JOB_TYPE_VERIFY: "verify", JOB_TYPE_PROOF: "proof" };

/** A call's metadata read as headers are (the first value, as text): Idempotency-Key, the API key. */
export function metadataReader(metadata: { get(name: string): (string | Buffer)[] }): (name: string) => string | undefined {
  return (name) => {
    const v = metadata.get(name)[0];
    return typeof v === "string" ? v : v?.toString("utf8");
  };
}

/** The multipart fields a REST client would send, from the gRPC metadata message. */
function fieldsOf(m: SubmissionMetadata__Output): Record<string, unknown> {
  return {
    registryAddress: m.registryAddress,
    manifestURI: m.manifestUri,
    ...(m.rpcUrl ? { rpcUrl: m.rpcUrl } : {}),
    ...(m.callbackUrl ? { callbackUrl: m.callbackUrl } : {}),
    ...(m.priority ? { priority: m.priority } : {}),
    ...(m.recheckEvery ? { recheckEvery: m.recheckEvery } : {}),
    ...(m.fresh === true ? { fresh: "true" } : {}),
  };
}

/**
 * veriflow.v1.SubmissionService: a `metadata` message, then the file as `chunk` messages,
 * streamed into the uploads bucket as they arrive (never held whole in memory) and
 * accepted through the same function as the REST upload.
 */
export function createSubmissionHandlers(deps: SubmissionServiceDeps): SubmissionServiceHandlers {
  return {
    SubmitBatch: createSubmitBatch(deps),
    CreateWatch: deps.rpc.unary<CreateWatchRequest__Output, CreateWatchResponse>("submit", async (req, ctx) => {
      const fields = {
        contentHash: req.contentHash,
        registryAddress: req.registryAddress,
        manifestURI: req.manifestUri,
        ...(req.callbackUrl ? { callbackUrl: req.callbackUrl } : {}),
        ...(req.recheckEvery ? { recheckEvery: req.recheckEvery } : {}),
        ...(req.priority ? { priority: req.priority } : {}),
      };
      const header = metadataReader(ctx.metadata);
      const key = readIdempotencyKey(header(IDEMPOTENCY_KEY_HEADER));
      const idempotency = key === undefined ? undefined : { key, apiKey: presentedApiKey(header) };
      const { accepted } = await submitWatch(deps, { fields, tenant: ctx.principal.tenant, scopes: ctx.principal.scopes, trace: ctx.trace, idempotency });
      return { watchId: accepted.watchId, status: "JOB_STATUS_QUEUED", pollUrl: accepted.pollUrl };
    }),
    SubmitVerification: deps.rpc.clientStream<SubmitVerificationRequest__Output, SubmitVerificationResponse>("submit", async (messagesIn, ctx) => {
      const messages = withIdleTimeout(messagesIn[Symbol.asyncIterator](), deps.uploadIdleTimeoutMs);
      const first = await nextMessage(messages, ctx.signal);
      if (first.done || first.value.part !== "metadata" || !first.value.metadata) {
        throw invalidArgument("E_METADATA_REQUIRED", "the first message must be `metadata` (type, registry_address, manifest_uri)");
      }
      const meta = first.value.metadata;
      const jobType = JOB_TYPES[meta.type];
      if (!jobType) throw invalidArgument("E_INVALID_JOB_TYPE", "metadata.type must be JOB_TYPE_VERIFY or JOB_TYPE_PROOF");
      const fields = fieldsOf(meta);
      const request = parseSubmission(jobType, fields, deps.policy); // refuse bad fields before taking the file
      settlePriority(jobType, request.priority, { scopes: ctx.principal.scopes, waits: false }); // and a class the key may not ask for
      checkTextField("fileName", meta.fileName);
      checkTextField("contentType", meta.contentType);
      // Decided before the file is read, as on REST: the chunks can be consumed only once.
      if (!(await deps.health.decide())) {
        const release = deps.fallback.admit();
        try {
          return await verifyInProcess(deps, request, meta, messages, ctx.signal);
        } finally {
          release();
        }
      }

      const header = metadataReader(ctx.metadata);
      const key = readIdempotencyKey(header(IDEMPOTENCY_KEY_HEADER));
      const slot = key === undefined ? undefined : await deps.idempotency.begin(presentedApiKey(header), key).catch((err: unknown) => {
        deps.health.reportFailure(err);
        throw err;
      });
      if (slot?.kind === "done") {
        // The same key again: the same job, if it is the same request (its chunks only hashed, never stored).
        const hashed = await hashChunks(messages, ctx.signal, deps.maxUploadBytes);
        if (requestFingerprint(request, hashed) !== slot.record.fingerprint) throw keyReused();
        return asResponse(slot.record.accepted);
      }
      try {
        // A gRPC submission is answered once queued: interactive for a verification, bulk for a proof (which may still ask otherwise).
        const expected = defaultPriority({ jobType }, { waits: false });
        await deps.admission.check(undefined, expected);
        const hold = deps.startHold();
        // Batches' uploads wait while this one is stored and queued (bulk-yield.ts).
        const stored = expected === "interactive" ? deps.bulkYield?.interactive() : undefined;
        const accepted = await storeAndAccept(deps, { jobType, fields, meta, messages, signal: ctx.signal, tenant: ctx.principal.tenant, trace: ctx.trace, hold, scopes: ctx.principal.scopes })
          .catch((err: unknown) => {
            noteHeld(hold, "refused", deps.log);
            throw err;
          })
          .finally(() => stored?.());
        noteHeld(hold, "accepted", deps.log);
        deps.admission.accepted(expected);
        if (slot) await slot.complete(requestFingerprint(request, accepted.file), accepted.accepted);
        return asResponse(accepted.accepted);
      } catch (err) {
        await slot?.release(); // only an accepted job holds a key: a retry may succeed
        throw err;
      }
    }),
  };
}

const asResponse = (accepted: Accepted): SubmitVerificationResponse => ({ jobId: accepted.jobId, status: "JOB_STATUS_QUEUED", pollUrl: accepted.pollUrl, mode: "async" });

/** Streams the chunks into the uploads bucket and queues the job; the file's hash and size come back for the idempotency record. */
async function storeAndAccept(
  deps: SubmissionServiceDeps,
  input: { jobType: JobType; fields: Record<string, unknown>; meta: SubmissionMetadata__Output; messages: AsyncIterator<SubmitVerificationRequest__Output>; signal: AbortSignal; tenant: string; trace: Context; hold: Hold; scopes: readonly Scope[] },
): Promise<{ accepted: Accepted; file: { contentHash: string; size: number } }> {
  const { jobType, fields, meta, messages, signal, tenant } = input;
  const jobId = newJobId();
  const counted: Counted = { size: 0, chunks: 0 };
  let info;
  try {
    // A store that stopped answering switches later submissions to the fallback.
    info = await putUpload(
      deps,
      jobId,
      Readable.from(fileChunks(messages, signal, deps.maxUploadBytes, counted)),
      { fileName: meta.fileName || null, contentType: meta.contentType || null },
      input.hold,
    );
  } catch (err) {
    await discardUpload(deps, jobId);
    if (counted.error) throw counted.error; // the stream's own complaint (too large, out of order), not the store's
    if (err instanceof HttpError || signal.aborted) throw err;
    if (isStorageFullError(err)) throw storageFull(err);
    deps.health.reportFailure(err);
    throw new HttpError("E_STORAGE_UNAVAILABLE", "the upload could not be stored; try again shortly", { cause: err, expose: true });
  }
  if (counted.chunks === 0) {
    await discardUpload(deps, jobId, info);
    throw invalidArgument("E_FILE_REQUIRED", "send the file as `chunk` messages after the metadata");
  }
  const accepted = await acceptSubmission(deps, {
    jobId,
    jobType,
    fields,
    tenant,
    trace: input.trace,
    hold: input.hold,
    // A gRPC submission is answered once queued: nobody holds the stream for its outcome.
    access: { scopes: input.scopes, waits: false },
    upload: {
      ...storedFileOf(jobId, info),
      fileName: meta.fileName || null,
      contentType: meta.contentType || null,
    },
  }).catch((err: unknown) => {
    deps.health.reportFailure(err); // only "unreachable" errors switch later submissions to the fallback
    throw err;
  });
  return { accepted, file: { contentHash: contentHashOfDigest(info.digest), size: info.size } };
}

/** The file's chunks hashed and dropped, as the fallback and a repeated Idempotency-Key take them. */
async function hashChunks(messages: AsyncIterator<SubmitVerificationRequest__Output>, signal: AbortSignal, maxBytes: number): Promise<HashedFile> {
  const counted: Counted = { size: 0, chunks: 0 };
  const hashed = await hashStream(fileChunks(messages, signal, maxBytes, counted)).catch((err: unknown) => {
    throw counted.error ?? err;
  });
  if (counted.chunks === 0) throw invalidArgument("E_FILE_REQUIRED", "send the file as `chunk` messages after the metadata");
  return hashed;
}

/**
 * The fallback, as REST has it: the file's chunks are hashed as they arrive (never held
 * whole), the pipeline runs in-process, and the verdict is the answer (`mode: "sync"`);
 * a failed verification is the call's error, status by its code.
 */
async function verifyInProcess(
  deps: SubmissionServiceDeps,
  request: JobRequest,
  meta: SubmissionMetadata__Output,
  messages: AsyncIterator<SubmitVerificationRequest__Output>,
  signal: AbortSignal,
): Promise<SubmitVerificationResponse> {
  const hashed = await hashChunks(messages, signal, deps.maxUploadBytes);
  const file = { ...hashed, fileName: meta.fileName || null, contentType: meta.contentType || null };
  const run = await deps.fallback.verify(request, file, { timeoutMs: deps.syncTimeoutMs, signal });
  const answer = fallbackAnswer(run, request);
  deps.log.info({ jobType: request.jobType, contentHash: hashed.contentHash, size: hashed.size, status: answer.result.status }, "verified in-process (queue unavailable)");
  return {
    jobId: "",
    status: "JOB_STATUS_COMPLETED",
    pollUrl: "",
    mode: "sync",
    verdict: toProtoVerdict(answer.result),
    resultJson: JSON.stringify(answer.result),
    ...(answer.callback ? { callbackNotSentReason: answer.callback.reason } : {}),
  };
}

/**
 * The call's messages, each within `idleMs` of the one before: past it the next read fails
 * with E_REQUEST_TIMEOUT (gRPC DEADLINE_EXCEEDED), which ends the call and, mid-file, the
 * put (the store purges its chunks). A client's own deadline may be longer or absent.
 */
export function withIdleTimeout<T>(it: AsyncIterator<T>, idleMs: number): AsyncIterator<T> {
  return {
    next: () =>
      new Promise<IteratorResult<T>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new HttpError("E_REQUEST_TIMEOUT", `no upload message for ${idleMs} ms: the upload was abandoned; send it again`)), idleMs);
        it.next().then(
          (r) => {
            clearTimeout(timer);
            resolve(r);
          },
          (err: unknown) => {
            clearTimeout(timer);
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      }),
  };
}

/** The next message, or a rejection once the call is cancelled (a stalled client frees its handler). */
export function nextMessage<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  if (signal.aborted) return Promise.reject(new Error("the call was cancelled"));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error("the call was cancelled"));
    signal.addEventListener("abort", onAbort, { once: true });
    it.next().then(
      (r) => {
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

interface Counted {
  size: number;
  chunks: number;
  /** Why the stream was refused, kept apart from however the store reports it. */
  error?: HttpError;
}

/** The file's bytes from the `chunk` messages after the metadata, capped at `maxBytes`. */
async function* fileChunks(
  it: AsyncIterator<SubmitVerificationRequest__Output>,
  signal: AbortSignal,
  maxBytes: number,
  counted: Counted,
): AsyncGenerator<Buffer> {
  const refuse = (err: HttpError) => {
    counted.error = err;
    return err;
  };
  for (;;) {
    // An idle timeout is the stream's own complaint, kept apart from however the store reports it.
    const r = await nextMessage(it, signal).catch((err: unknown) => {
      throw err instanceof HttpError ? refuse(err) : err;
    });
    if (r.done) return;
    if (r.value.part !== "chunk") {
      throw refuse(invalidArgument("E_UNEXPECTED_METADATA", "send `metadata` once, as the first message; then only `chunk` messages"));
    }
    const chunk = r.value.chunk ?? Buffer.alloc(0);
    counted.chunks += 1;
    counted.size += chunk.length;
    if (counted.size > maxBytes) throw refuse(new HttpError("E_FILE_TOO_LARGE", `the file is larger than the ${maxBytes}-byte limit`));
    if (chunk.length > 0) yield chunk;
  }
}
