import type { Context, Middleware } from "koa";
import { newJobId, jobTypes, type JobType } from "@veriflow/events";
import { HttpError, badRequest } from "@veriflow/errors";
import { presentedApiKey, principalOf, traceContextOf } from "@veriflow/http";
import { bulkUploads, discardUpload, type AcceptDeps } from "./accept-submission.js";
import type { Admission } from "./admission.js";
import { createBatchHashingStorage, createBatchStorage, type BatchFile, type BatchLimits, type HashedBatchFile } from "./batch-storage.js";
import { acceptBatch, batchFingerprint, type BatchAnswer, type BatchItem } from "./batch-submission.js";
import { IDEMPOTENCY_KEY_HEADER, contentHashOfDigest, keyReused, readIdempotencyKey, type Idempotency } from "./idempotency.js";
import { createBatchMultipart, receiveBatch } from "./multipart.js";
import { manifestUrisOf, parseBatchFields } from "./submission.js";

export interface BatchRouteDeps extends AcceptDeps {
  admission: Admission;
  idempotency: Idempotency;
  batchLimits: BatchLimits;
}

/** Multipart framing allowed on top of the files' bytes before a declared length is refused unread. */
const FRAMING_SLACK_BYTES = 1024 * 1024;

/**
 * POST /api/verification-batches: several `file` parts, a `manifestURI` field per file in the
 * same order, one `registryAddress` (and optional `rpcUrl`, `callbackUrl` for the batch's
 * webhook, `jobType`). 202 `{ batchId, pollUrl, jobs, rejected }`.
 */
export function createBatchSubmit(deps: BatchRouteDeps): Middleware {
  const limits = deps.batchLimits;
  const store = createBatchMultipart(createBatchStorage(bulkUploads(deps), limits, (name) => discardUpload(deps, name)), limits.maxFiles);
  const hashOnly = createBatchMultipart(createBatchHashingStorage(), limits.maxFiles);

  return async (ctx) => {
    const declared = declaredLength(ctx);
    if (declared !== undefined && declared > limits.maxBytes + FRAMING_SLACK_BYTES) {
      throw new HttpError("E_BATCH_TOO_LARGE", `the batch's files add up to more than the ${limits.maxBytes}-byte limit; split it into several batches`);
    }
    const key = readIdempotencyKey(ctx.get(IDEMPOTENCY_KEY_HEADER));
    const slot = key === undefined ? undefined : await deps.idempotency.begin<BatchAnswer>(presentedApiKey((name) => ctx.get(name)), key);
    if (slot?.kind === "done") {
      // The same key again: the same batch, if it is the same request (its files only hashed, never stored).
      const { files, fields } = await receiveBatch<HashedBatchFile>(ctx, hashOnly, limits);
      const uris = manifestUrisOf(fields);
      const same = batchFingerprint(jobTypeOf(fields), parseBatchFields(fields, deps.policy), byIndex(files).map((f) => ({ ...f, manifestUri: uris[f.index] })));
      if (same !== slot.record.fingerprint) throw keyReused();
      ctx.set("idempotent-replayed", "true");
      answer(ctx, slot.record.accepted);
      return;
    }
    try {
      // A batch's jobs are bulk: judged against the bulk backlog only.
      await deps.admission.check(declared, "bulk");
      const { files, fields } = await receiveBatch<BatchFile>(ctx, store, limits);
      const ordered = byIndex(files);
      const items = await checkBatch(deps, ordered, fields);
      const batch = await acceptBatch(deps, { batchId: newJobId(), tenant: principalOf(ctx).tenant, trace: traceContextOf(ctx), ...items });
      deps.admission.accepted("bulk", batch.jobs.length);
      const uris = manifestUrisOf(fields);
      const fileFacts = ordered.map((f) => ({ fileName: f.fileName, manifestUri: uris[f.index], contentHash: f.kind === "stored" ? contentHashOfDigest(f.digest) : null, size: f.kind === "stored" ? f.size : null }));
      if (slot) await slot.complete(batchFingerprint(items.jobType, items.shared, fileFacts), batch);
      answer(ctx, batch);
    } catch (err) {
      await slot?.release(); // only an accepted batch holds a key: a retry may succeed
      throw err;
    }
  };
}

/** The batch's shared fields and its items; on a problem of the whole request, every stored file is removed. */
async function checkBatch(deps: AcceptDeps, files: readonly BatchFile[], fields: Record<string, unknown>) {
  try {
    const jobType = jobTypeOf(fields);
    const shared = parseBatchFields(fields, deps.policy);
    const uris = manifestUrisOf(fields);
    if (uris.length > files.length) throw badRequest("E_BAD_MULTIPART", `${uris.length} manifestURI fields for ${files.length} files: send one per file, in the files' order`);
    const items: BatchItem[] = files.map((f) =>
      f.kind === "rejected"
        ? f
        : { kind: "stored", index: f.index, jobId: f.jobId, fileName: f.fileName, manifestUri: uris[f.index] || undefined, contentHash: contentHashOfDigest(f.digest), upload: f },
    );
    return { jobType, shared, items };
  } catch (err) {
    await Promise.all(files.flatMap((f) => (f.kind === "stored" ? [discardUpload(deps, f.objectName, f)] : [])));
    throw err;
  }
}

function jobTypeOf(fields: Record<string, unknown>): JobType {
  const raw = fields.jobType ?? "verify";
  if (typeof raw !== "string" || !(jobTypes as readonly string[]).includes(raw)) throw badRequest("E_INVALID_JOB_TYPE", `"jobType" must be one of ${jobTypes.join(", ")}`);
  return raw as JobType;
}

const byIndex = <F extends { index: number }>(files: readonly F[]): F[] => [...files].sort((a, b) => a.index - b.index);

function answer(ctx: Context, batch: BatchAnswer): void {
  ctx.status = 202;
  ctx.set("location", batch.pollUrl);
  ctx.body = batch;
}

function declaredLength(ctx: Context): number | undefined {
  const n = Number(ctx.get("content-length"));
  return ctx.get("content-length") !== "" && Number.isSafeInteger(n) ? n : undefined;
}
