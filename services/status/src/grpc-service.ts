import { grpc, invalidArgument, type JobServiceHandlers, type Rpc } from "@veriflow/grpc";
import { isTerminal, JOBS_PAGE_SIZE } from "@veriflow/events";
import { HttpError } from "@veriflow/errors";
import type { Sql } from "@veriflow/pg";
import type { JobChanges } from "./job-changes.js";
import type { JobLoader } from "./load-job.js";
import { openJobWatch, watchTerminalJobs } from "./job-watch.js";
import { TYPE_TO_PROTO, decodePageToken, parseFilter, timestamp, toProtoJob, toProtoWatch } from "./grpc-mapping.js";
import { createWatchReader, parseWatchId } from "./watch-routes.js";
import { listTenantWatches } from "./watch-store.js";
import { getTenantBatch, listBatchJobs } from "./batch-store.js";
import { parseBatchId } from "./batch-routes.js";
import { countByStatus } from "./job-counts.js";
import { encodeJobCursor } from "./job-cursor.js";
import { queryJobs } from "./job-list.js";
import { parseJobId } from "./routes.js";
import type { RetriedJob } from "./retry-job.js";

export interface JobServiceDeps {
  rpc: Rpc;
  sql: Sql;
  changes: JobChanges;
  /** Read-your-write job lookup of a tenant's jobs (load-job.ts), shared with REST. */
  loadJob: JobLoader;
  isStreamAvailable: () => Promise<boolean>;
  /** How far a WatchJobs reader may fall behind before its stream is closed (E_WATCH_TOO_SLOW). */
  watchMaxBuffered?: number;
  /** Retries one of a tenant's failed jobs (retry-job.ts), shared with REST. */
  retryJob: (jobId: string, tenant: string) => Promise<RetriedJob>;
  /** Stops one of a tenant's watches (watch-routes.ts createWatchStop), shared with REST. */
  stopWatch: (watchId: string, tenant: string) => Promise<void>;
}

/** veriflow.v1.JobService over the projection and the change feed: each caller its own tenant's jobs. */
export function createJobServiceHandlers(deps: JobServiceDeps): JobServiceHandlers {
  const { rpc, sql } = deps;
  const requireJobId = (raw: string) => {
    if (!raw) throw invalidArgument("E_INVALID_JOB_ID", "job_id is required");
    return parseJobId(raw);
  };

  const readWatch = createWatchReader(deps);
  const requireWatchId = (raw: string) => {
    if (!raw) throw invalidArgument("E_INVALID_WATCH_ID", "watch_id is required");
    return parseWatchId(raw);
  };

  return {
    GetJob: rpc.unary("read", async (req, ctx) => {
      const jobId = requireJobId(req.jobId);
      const job = await deps.loadJob(jobId, ctx.principal.tenant);
      if (!job) throw new HttpError("E_JOB_NOT_FOUND", `no job ${jobId}`);
      return toProtoJob(job);
    }),

    ListJobs: rpc.unary("read", async (req, ctx) => {
      const filter = parseFilter(req.filter);
      if (req.pageSize < 0) throw invalidArgument("E_INVALID_PAGE_SIZE", "page_size must not be negative");
      const pageSize = Math.min(req.pageSize || JOBS_PAGE_SIZE.default, JOBS_PAGE_SIZE.max);
      const page = await queryJobs(sql, ctx.principal.tenant, filter, { limit: pageSize, after: decodePageToken(req.pageToken) });
      return { jobs: page.jobs.map(toProtoJob), nextPageToken: page.next ? encodeJobCursor(page.next) : "" };
    }),

    GetStats: rpc.unary("read", async (_req, ctx) => {
      const [available, counts] = await Promise.all([deps.isStreamAvailable().catch(() => false), countByStatus(sql, ctx.principal.tenant)]);
      return { available, ...counts };
    }),

    RetryJob: rpc.unary("submit", async (req, ctx) => {
      const { job, run, stage } = await deps.retryJob(requireJobId(req.jobId), ctx.principal.tenant);
      return { job: toProtoJob(job), run, stage };
    }),

    GetBatch: rpc.unary("read", async (req, ctx) => {
      if (!req.batchId) throw invalidArgument("E_INVALID_BATCH_ID", "batch_id is required");
      const batchId = parseBatchId(req.batchId);
      if (req.pageSize < 0 || req.offset < 0) throw invalidArgument("E_INVALID_PAGE_SIZE", "page_size and offset must not be negative");
      const found = await getTenantBatch(sql, batchId, ctx.principal.tenant);
      if (!found) throw new HttpError("E_BATCH_NOT_FOUND", `no batch ${batchId}`);
      const { batch, counts } = found;
      const jobs = await listBatchJobs(sql, batchId, { limit: Math.min(req.pageSize || JOBS_PAGE_SIZE.default, JOBS_PAGE_SIZE.max), offset: req.offset });
      return {
        batchId,
        type: TYPE_TO_PROTO[batch.jobType as keyof typeof TYPE_TO_PROTO] ?? "JOB_TYPE_UNSPECIFIED",
        registryAddress: batch.registryAddress,
        createdAt: timestamp(batch.createdAt),
        total: batch.total,
        rejected: batch.rejected,
        queued: counts.queued,
        processing: counts.processing,
        completed: counts.completed,
        failed: counts.failed,
        verdicts: { ok: counts.verdicts.OK, warn: counts.verdicts.WARN, fail: counts.verdicts.FAIL },
        done: batch.completedAt !== null,
        completedAt: timestamp(batch.completedAt),
        jobs: jobs.map(toProtoJob),
      };
    }),

    ListWatches: rpc.unary("read", async (req, ctx) => {
      if (req.pageSize < 0) throw invalidArgument("E_INVALID_PAGE_SIZE", "page_size must not be negative");
      const after = decodePageToken(req.pageToken);
      const limit = Math.min(req.pageSize || JOBS_PAGE_SIZE.default, JOBS_PAGE_SIZE.max);
      const page = await listTenantWatches(sql, ctx.principal.tenant, { limit, offset: 0, ...(after ? { after } : {}), ...(req.active === undefined ? {} : { active: req.active }) });
      return { watches: page.watches.map(toProtoWatch), nextPageToken: page.next ? encodeJobCursor(page.next) : "", total: page.total };
    }),

    GetWatch: rpc.unary("read", async (req, ctx) => toProtoWatch(await readWatch(requireWatchId(req.watchId), ctx.principal.tenant))),

    DeleteWatch: rpc.unary("submit", async (req, ctx) => {
      const watchId = requireWatchId(req.watchId);
      await deps.stopWatch(watchId, ctx.principal.tenant);
      return { watch: toProtoWatch(await readWatch(watchId, ctx.principal.tenant)) };
    }),

    WatchJob: rpc.serverStream("read", async (req, call, ctx) => {
      const jobId = requireJobId(req.jobId);
      const updates = await openJobWatch(deps.changes, () => deps.loadJob(jobId, ctx.principal.tenant), jobId, ctx.signal);
      if (!updates) {
        if (ctx.signal.aborted) return;
        throw new HttpError("E_JOB_NOT_FOUND", `no job ${jobId}`);
      }
      for await (const job of updates) await write(call, toProtoJob(job), ctx.signal);
    }),

    WatchJobs: rpc.serverStream("read", async (req, call, ctx) => {
      const filter = parseFilter(req.filter);
      if (filter.status && !isTerminal(filter.status)) {
        throw invalidArgument("E_INVALID_FILTER", "WatchJobs sends completed and failed jobs: filter.status must be unset, COMPLETED or FAILED");
      }
      // Headers now: the client knows the watch is open before the first job finishes.
      call.sendMetadata(new grpc.Metadata());
      // A reader too slow for the jobs finishing: stop waiting on its transport, end with E_WATCH_TOO_SLOW.
      const behind = new AbortController();
      const writing = AbortSignal.any([ctx.signal, behind.signal]);
      const jobs = watchTerminalJobs(deps.changes, ctx.principal.tenant, filter, ctx.signal, { maxBuffered: deps.watchMaxBuffered, onOverflow: () => behind.abort() });
      for await (const job of jobs) await write(call, toProtoJob(job), writing);
    }),
  };
}

interface Writable<T> {
  write(msg: T): boolean;
  once(event: "drain", l: () => void): unknown;
  off(event: "drain", l: () => void): unknown;
}

/** Writes one message, waiting for the transport to drain when its buffer is full (or the call to end). */
function write<T>(call: Writable<T>, msg: T, signal: AbortSignal): Promise<void> {
  if (call.write(msg) || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
