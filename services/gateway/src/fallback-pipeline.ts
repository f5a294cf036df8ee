import type { Readable } from "node:stream";
import type multer from "@koa/multer";
import { createRequestEvent, newJobId, type JobRequest, type ProofDocument, type VerifyResult } from "@veriflow/events";
import { HttpError, PermanentError, errorCode } from "@veriflow/errors";
import { createInProcessStages, runInProcess, type PipelineRun, type StageModules, type UploadReader } from "@veriflow/pipeline";
import type { Env, Logger } from "@veriflow/platform";
import { createContentHasher } from "@veriflow/verify";
import { failureError } from "./failure-status.js";
import { fallbackRejected, fallbackRunning, fallbackVerifications } from "./metrics.js";
import { checkFieldsAtFileStart } from "./multipart.js";

/**
 * The synchronous fallback: while the queue (NATS JetStream) is unreachable the gateway
 * runs the pipeline in-process: every stage of the descriptor, with its own handler and
 * the settings its service reads from the same environment, so the fallback has every
 * stage, guard and field the queued path has. The only difference is where the upload's
 * bytes are: hashed as they stream in (never buffered whole) instead of stored in the
 * uploads bucket, so the hashing stage reads the digest taken at ingest.
 */
export interface FallbackPipeline {
  /**
   * Takes one of the `maxConcurrent` slots for an in-process verification, before its body
   * is read; throws 503 E_FALLBACK_BUSY (with Retry-After) when none is free. Call the
   * returned function when the request is answered.
   */
  admit(): () => void;
  /** Runs one submission to its terminal event within `timeoutMs` (504 E_VERIFY_TIMEOUT past it). */
  verify(request: JobRequest, file: IngestedFile, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<PipelineRun>;
  close(): Promise<void>;
}

/** A file part as the in-process path receives it: hashed and dropped while it streamed in. */
export interface IngestedFile {
  contentHash: string;
  size: number;
  fileName: string | null;
  contentType: string | null;
}

/** The `bucket` an in-process job's upload names: none, the bytes were hashed at ingest. */
export const INGEST_HASHED = "in-process";

/** How many in-process verifications run at once (GATEWAY_FALLBACK_CONCURRENCY). */
export const DEFAULT_FALLBACK_CONCURRENCY = 16;

export async function createFallbackPipeline(env: Env, log: Logger, modules?: StageModules, maxConcurrent = DEFAULT_FALLBACK_CONCURRENCY): Promise<FallbackPipeline> {
  let running = 0;
  const ingested = new Map<string, IngestedFile>();
  const uploads: UploadReader = {
    hash(upload) {
      const file = ingested.get(upload.name);
      if (!file) return Promise.reject(new PermanentError("E_UPLOAD_NOT_FOUND", `upload ${upload.name} is not in this process`));
      return Promise.resolve({ sha256Hex: file.contentHash, size: file.size });
    },
    release(upload) {
      ingested.delete(upload.name);
      return Promise.resolve();
    },
  };
  const stages = await createInProcessStages(env, { log, uploads, now: () => new Date() }, modules);
  return {
    admit() {
      // No queue in front of the slots: a request waiting here would hold its upload open for nothing.
      if (running >= maxConcurrent) {
        fallbackRejected.inc();
        throw new HttpError("E_FALLBACK_BUSY", `the queue is unavailable and ${maxConcurrent} verifications are running in-process; send it again shortly`, {
          expose: true,
          retryAfterSeconds: 2,
        });
      }
      running += 1;
      fallbackRunning.set(running);
      let released = false;
      return () => {
        if (!released) running -= 1;
        released = true;
        fallbackRunning.set(running);
      };
    },
    async verify(request, file, opts) {
      const jobId = newJobId();
      ingested.set(jobId, file);
      try {
        const upload = { bucket: INGEST_HASHED, name: jobId, size: file.size, fileName: file.fileName, contentType: file.contentType, nuid: null, chunks: null, digest: null };
        const event = createRequestEvent(jobId, { jobId, request, upload });
        const run = await withDeadline(runInProcess(stages.handlers, event, { log, signal: opts.signal }), opts.timeoutMs);
        fallbackVerifications.inc({ outcome: run.outcome.type === "verification.completed" ? "completed" : "failed" });
        return run;
      } catch (err) {
        fallbackVerifications.inc({ outcome: errorCode(err) === "E_VERIFY_TIMEOUT" ? "timeout" : "error" });
        throw err;
      } finally {
        ingested.delete(jobId);
      }
    },
    close: () => stages.close(),
  };
}

/** What a client of an in-process verification is told: the verdict, and why no callback comes. */
export interface FallbackAnswer {
  result: VerifyResult | ProofDocument;
  /** Present when the request named a callbackUrl. */
  callback?: { sent: false; reason: string };
}

/**
 * Why a fallback verification's callbackUrl is not called: the callback is a delivery of
 * a recorded job's terminal event, and no job is recorded while the queue is down. The
 * client has the result in its answer instead.
 */
export const FALLBACK_CALLBACK_REASON =
  "the queue was unavailable, so this submission was verified in-process by the gateway and not recorded as a job: no callback is sent; the result is in this answer";

/** A fallback run's terminal event as the answer: the result, or the failure as an edge error (status by code). */
export function fallbackAnswer(run: PipelineRun, request: JobRequest): FallbackAnswer {
  const { outcome } = run;
  if (outcome.type === "verification.failed") {
    const { code, message, stage } = outcome.data;
    throw failureError(code, message, { stage });
  }
  return { result: outcome.data.result, ...(request.callbackUrl ? { callback: { sent: false, reason: FALLBACK_CALLBACK_REASON } } : {}) };
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError("E_VERIFY_TIMEOUT", `the verification did not finish within ${ms} ms`, { expose: true })), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** What the hashing storage hands multer instead of a stored file. */
export interface HashedFile {
  contentHash: string;
  size: number;
}

/** Feeds each chunk of a stream to SHA-256 and drops it: memory stays flat for any size. */
export async function hashStream(chunks: AsyncIterable<Uint8Array>): Promise<HashedFile> {
  const hasher = createContentHasher();
  let size = 0;
  for await (const chunk of chunks) {
    hasher.update(chunk);
    size += chunk.length;
  }
  return { contentHash: hasher.digest(), size };
}

/** A multer storage engine that hashes the file part as it arrives and keeps nothing. */
export function createHashingStorage(): multer.StorageEngine {
  return {
    _handleFile(req, file, cb) {
      try {
        checkFieldsAtFileStart(req, file);
      } catch (err) {
        return cb(err);
      }
      hashStream((file as multer.File & { stream: Readable }).stream).then(
        (hashed) => cb(null, hashed as unknown as multer.File),
        (err: unknown) => cb(err as Error),
      );
    },
    _removeFile(_req, _file, cb) {
      cb(null as unknown as Error);
    },
  };
}
