import { Readable } from "node:stream";
import { newJobId, type JobRequest, type JobType } from "@veriflow/events";
import { invalidArgument, toProtoVerdict, type Rpc, type SubmissionMetadata__Output, type SubmissionServiceHandlers, type SubmitVerificationRequest__Output, type SubmitVerificationResponse } from "@veriflow/grpc";
import { HttpError } from "@veriflow/errors";
import { putUpload } from "@veriflow/nats";
import { acceptSubmission, type AcceptDeps } from "./accept-submission.js";
import { fallbackAnswer, hashStream, type FallbackPipeline } from "./fallback-pipeline.js";
import type { QueueHealth } from "./queue-health.js";
import { checkStorableText, parseSubmission } from "./submission.js";

export interface SubmissionServiceDeps extends AcceptDeps {
  rpc: Rpc;
  maxUploadBytes: number;
  /** Whether submissions go through the queue or the in-process fallback (shared with REST). */
  health: QueueHealth;
  fallback: FallbackPipeline;
  /** Bound of an in-process verification (GATEWAY_SYNC_TIMEOUT_MS). */
  syncTimeoutMs: number;
}

const JOB_TYPES: Record<string, JobType> = { JOB_TYPE_VERIFY: "verify", JOB_TYPE_PROOF: "proof" };

/** The multipart fields a REST client would send, from the gRPC metadata message. */
function fieldsOf(m: SubmissionMetadata__Output): Record<string, unknown> {
  return {
    registryAddress: m.registryAddress,
    manifestURI: m.manifestUri,
    ...(m.rpcUrl ? { rpcUrl: m.rpcUrl } : {}),
    ...(m.callbackUrl ? { callbackUrl: m.callbackUrl } : {}),
  };
}

/**
 * veriflow.v1.SubmissionService: a `metadata` message, then the file as `chunk` messages,
 * streamed into the uploads bucket as they arrive (never held whole in memory) and
 * accepted through the same function as the REST upload.
 */
export function createSubmissionHandlers(deps: SubmissionServiceDeps): SubmissionServiceHandlers {
  return {
    SubmitVerification: deps.rpc.clientStream(async (call, ctx) => {
      const messages = call[Symbol.asyncIterator]() as AsyncIterator<SubmitVerificationRequest__Output>;
      const first = await nextMessage(messages, ctx.signal);
      if (first.done || first.value.part !== "metadata" || !first.value.metadata) {
        throw invalidArgument("E_METADATA_REQUIRED", "the first message must be `metadata` (type, registry_address, manifest_uri)");
      }
      const meta = first.value.metadata;
      const jobType = JOB_TYPES[meta.type];
      if (!jobType) throw invalidArgument("E_INVALID_JOB_TYPE", "metadata.type must be JOB_TYPE_VERIFY or JOB_TYPE_PROOF");
      const fields = fieldsOf(meta);
      const request = parseSubmission(jobType, fields, deps.policy); // refuse bad fields before taking the file
      checkStorableText("fileName", meta.fileName || null);
      // Decided before the file is read, as on REST: the chunks can be consumed only once.
      if (!deps.health.usable()) return verifyInProcess(deps, request, meta, messages, ctx.signal);

      const jobId = newJobId();
      const counted: Counted = { size: 0, chunks: 0 };
      let info;
      try {
        // A store that stopped answering switches later submissions to the fallback.
        info = await putUpload(deps.uploads, jobId, Readable.from(fileChunks(messages, ctx.signal, deps.maxUploadBytes, counted)), {
          fileName: meta.fileName || null,
          contentType: meta.contentType || null,
        });
      } catch (err) {
        await deps.uploads.delete(jobId).catch(() => {});
        if (counted.error) throw counted.error; // the stream's own complaint (too large, out of order), not the store's
        if (err instanceof HttpError || ctx.signal.aborted) throw err;
        deps.health.reportFailure(err);
        throw new HttpError("E_STORAGE_UNAVAILABLE", "the upload could not be stored; try again shortly", { cause: err, expose: true });
      }
      if (counted.chunks === 0) {
        await deps.uploads.delete(jobId).catch(() => {});
        throw invalidArgument("E_FILE_REQUIRED", "send the file as `chunk` messages after the metadata");
      }
      const accepted = await acceptSubmission(deps, {
        jobId,
        jobType,
        fields,
        upload: {
          objectName: jobId,
          size: info.size,
          nuid: info.nuid,
          chunks: info.chunks,
          digest: info.digest,
          fileName: meta.fileName || null,
          contentType: meta.contentType || null,
        },
      }).catch((err: unknown) => {
        deps.health.reportFailure(err); // only "unreachable" errors switch later submissions to the fallback
        throw err;
      });
      return { jobId: accepted.jobId, status: "JOB_STATUS_QUEUED", pollUrl: accepted.pollUrl, mode: "async" };
    }),
  };
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
  const counted: Counted = { size: 0, chunks: 0 };
  const hashed = await hashStream(fileChunks(messages, signal, deps.maxUploadBytes, counted)).catch((err: unknown) => {
    throw counted.error ?? err;
  });
  if (counted.chunks === 0) throw invalidArgument("E_FILE_REQUIRED", "send the file as `chunk` messages after the metadata");
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

/** The next message, or a rejection once the call is cancelled (a stalled client frees its handler). */
function nextMessage<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
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
    const r = await nextMessage(it, signal);
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
