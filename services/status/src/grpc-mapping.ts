import { CONTENT_HASH_PATTERN, jobStatuses, type JobStatus, type JobType } from "@veriflow/events";
import { invalidArgument, toProtoVerdict, type ProtoWatch, type Job as ProtoJob, type JobFilter__Output, type JobStatus__Output, type JobType__Output, type Timestamp, type Timestamp__Output } from "@veriflow/grpc";
import type { JobFilter } from "./job-filter.js";
import { decodeJobCursor, type JobCursor } from "./job-cursor.js";
import type { Job } from "./store.js";
import type { WatchRecord } from "./watch-store.js";

const STATUS_TO_PROTO: Record<JobStatus, JobStatus__Output> = {
  queued: "JOB_STATUS_QUEUED",
  processing: "JOB_STATUS_PROCESSING",
  completed: "JOB_STATUS_COMPLETED",
  failed: "JOB_STATUS_FAILED",
};
export const TYPE_TO_PROTO: Record<JobType, JobType__Output> = { verify: "JOB_TYPE_VERIFY", proof: "JOB_TYPE_PROOF" };

export const timestamp = (d: Date | null): Timestamp | null => {
  if (!d) return null;
  const ms = d.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 };
};

/**
 * A job as JobService sends it: the REST job's fields, with the verdict typed and the
 * whole result (verify result or proof document) as JSON in `result_json`.
 */
export function toProtoJob(job: Job): ProtoJob {
  const optional = <K extends string, V>(key: K, v: V | null) => (v === null ? {} : ({ [key]: v } as Record<K, V>));
  return {
    id: job.id,
    run: job.run,
    type: job.type ? TYPE_TO_PROTO[job.type] : "JOB_TYPE_UNSPECIFIED",
    status: STATUS_TO_PROTO[job.status],
    progress: job.progress,
    ...optional("contentHash", job.contentHash),
    ...optional("manifestUri", job.manifestUri),
    ...optional("registryAddress", job.registryAddress),
    ...optional("fileName", job.fileName),
    ...optional("fileSize", job.fileSize === null ? null : String(job.fileSize)),
    verdict: toProtoVerdict(job.result),
    ...optional("resultJson", job.result == null ? null : JSON.stringify(job.result)),
    failure: job.error,
    retryCount: job.retryCount,
    priority: job.priority ?? "interactive",
    createdAt: timestamp(job.createdAt),
    startedAt: timestamp(job.startedAt),
    completedAt: timestamp(job.completedAt),
    updatedAt: timestamp(job.updatedAt),
    resultHistory: job.resultHistory.map((v) => ({
      run: v.run,
      verdict: toProtoVerdict(v.result),
      ...optional("blockNumber", v.blockNumber === null ? null : String(v.blockNumber)),
      completedAt: timestamp(v.completedAt === null ? null : new Date(v.completedAt)),
      resultJson: JSON.stringify(v.result),
    })),
  };
}

/** A watch as JobService sends it: what it asked for, whether it is followed, and its job (verdicts, status, run). */
export function toProtoWatch({ watch, job }: { watch: WatchRecord; job: Job }): ProtoWatch {
  return {
    watchId: job.id,
    contentHash: job.contentHash ?? "",
    manifestUri: job.manifestUri ?? "",
    registryAddress: job.registryAddress ?? "",
    ...(watch.callbackUrl === null ? {} : { callbackUrl: watch.callbackUrl }),
    ...(watch.recheckEveryS === null ? {} : { recheckEverySeconds: watch.recheckEveryS }),
    active: watch.stoppedAt === null,
    createdAt: timestamp(watch.createdAt),
    stoppedAt: timestamp(watch.stoppedAt),
    job: toProtoJob(job),
  };
}

/** google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

/**
 * A Timestamp from the wire, refused outside the range the type defines (its seconds are an
 * int64, its nanos an int32): a date past it is no date PostgreSQL or JavaScript can compare.
 */
const fromTimestamp = (t: Timestamp__Output | null, field: string): Date | undefined => {
  if (!t) return undefined;
  const seconds = Number(t.seconds);
  if (!Number.isSafeInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS || t.nanos < 0 || t.nanos > 999_999_999) {
    throw invalidArgument("E_INVALID_FILTER", `filter.${field} must be a timestamp from 0001-01-01 to 9999-12-31 (nanos 0 to 999999999), got seconds ${t.seconds}, nanos ${t.nanos}`);
  }
  return new Date(seconds * 1000 + Math.floor(t.nanos / 1e6));
};

/** A filter from the wire; unspecified enums and empty strings mean "any". */
export function parseFilter(f: JobFilter__Output | null): JobFilter {
  if (!f) return {};
  const filter: JobFilter = {};
  if (f.status !== "JOB_STATUS_UNSPECIFIED") {
    const status = jobStatuses.find((s) => STATUS_TO_PROTO[s] === f.status);
    if (!status) throw invalidArgument("E_INVALID_FILTER", `filter.status ${String(f.status)} is not a job status`);
    filter.status = status;
  }
  if (f.type !== "JOB_TYPE_UNSPECIFIED") {
    const type = (Object.keys(TYPE_TO_PROTO) as JobType[]).find((t) => TYPE_TO_PROTO[t] === f.type);
    if (!type) throw invalidArgument("E_INVALID_FILTER", `filter.type ${String(f.type)} is not a job type`);
    filter.type = type;
  }
  if (f.contentHash) {
    if (!CONTENT_HASH_PATTERN.test(f.contentHash)) {
      throw invalidArgument("E_INVALID_FILTER", "filter.content_hash must be 0x followed by 64 hex digits");
    }
    filter.contentHash = f.contentHash.toLowerCase();
  }
  const after = fromTimestamp(f.createdAfter, "created_after");
  const before = fromTimestamp(f.createdBefore, "created_before");
  if (after) filter.createdAfter = after;
  if (before) filter.createdBefore = before;
  if (after && before && after >= before) throw invalidArgument("E_INVALID_FILTER", "filter.created_after must be before filter.created_before");
  return filter;
}

/** A page_token from the wire: empty for the first page; one this server did not issue is refused. */
export function decodePageToken(token: string): JobCursor | undefined {
  if (!token) return undefined;
  const cursor = decodeJobCursor(token);
  if (!cursor) throw invalidArgument("E_INVALID_PAGE_TOKEN", "page_token is not one this server issued; start again without it");
  return cursor;
}
