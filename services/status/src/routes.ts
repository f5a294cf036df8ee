import Koa from "koa";
import { isJobId, jobPath, JOBS_PATH, type AnyEnvelope, type JobPriority, type JobStatus } from "@veriflow/events";
import type { Authenticator } from "@veriflow/auth";
import { authenticate, createRouter, errorHandler, httpMetrics, methodsNotAllowed, principalOf, requestId, requireScope, traceRequests } from "@veriflow/http";
import { HttpError } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import type { Tracing } from "@veriflow/tracing";
import { databaseErrors, type DatabaseReadiness, type Sql } from "@veriflow/pg";
import type { JobChanges } from "./job-changes.js";
import { openJobWatch } from "./job-watch.js";
import { createJobLoader } from "./load-job.js";
import type { JobFailure, VerdictRecord } from "./projection.js";
import type { RetriedJob } from "./retry-job.js";
import { createDeadLetterRouter, type DeadLetters } from "./dead-letters.js";
import { streamJobEvents } from "./sse.js";
import { createPipelineRouter, type PipelineSources } from "./pipeline-view.js";
import { countByStatus, countJobs } from "./job-counts.js";
import { encodeJobCursor } from "./job-cursor.js";
import { queryJobs } from "./job-list.js";
import { parseListQuery } from "./list-query.js";
import { getJobEvents, type Job } from "./store.js";
import { createBatchRouter } from "./batch-routes.js";
import { createWatchRouter } from "./watch-routes.js";

export interface StatusAppDeps {
  sql: Sql;
  log: Logger;
  /** The job's request event read straight from the stream; null when there is none. */
  findRequestedEvent: (jobId: string) => Promise<AnyEnvelope | null>;
  /** Whether the event stream answers (reported as `available` by /stats). */
  isStreamAvailable: () => Promise<boolean>;
  /** The job change feed; without it there is no `/:jobId/events` (SSE) route. */
  changes?: JobChanges;
  /** SSE heartbeat comment interval (default 15 s). */
  sseHeartbeatMs?: number;
  /** Whether the migrations are applied: until then every job route answers 503 E_DATABASE_UNAVAILABLE. */
  database?: DatabaseReadiness;
  /** Retries one of a tenant's failed jobs (retry-job.ts); without it there is no `/:jobId/retry` route. */
  retryJob?: (jobId: string, tenant: string) => Promise<RetriedJob>;
  /** The dead letters (dead-letters.ts); without them there are no `/api/dead-letters` routes. */
  deadLetters?: DeadLetters;
  /** Publishes a watch's watch.stopped (watch-routes.ts); without it there is no DELETE /api/watches/:watchId. */
  publishWatchStop?: (event: AnyEnvelope) => Promise<void>;
  /** The consumers and dead-letter counts (NATS); without them there is no `/api/pipeline` route. */
  pipeline?: PipelineSources;
  /**
   * Checks the API key of every request: the gateway forwards its caller's, and a client
   * reaching this port directly needs one as well.
   */
  authenticator: Authenticator;
  /** The service's tracing (a server span per request; off when not given). */
  tracing?: Tracing;
}

/** A job as the old queue's API returned it, plus `failure` (structured) and file details. */
export interface ApiJob {
  id: string;
  jobId: string;
  /** 1, or n + 1 after the job was retried n times (POST …/retry). */
  run: number;
  type: Job["type"];
  status: JobStatus;
  progress: number;
  contentHash: string | null;
  manifestUri: string | null;
  registryAddress: string | null;
  /** Interactive or bulk; jobs recorded before priorities ran as interactive work. */
  priority: JobPriority;
  fileName: string | null;
  fileSize: number | null;
  result: unknown;
  /** Earlier runs' verdicts a re-verification replaced, oldest first. */
  resultHistory: VerdictRecord[];
  /** The failure's message, as the old API's string `error`; null unless failed. */
  error: string | null;
  failure: JobFailure | null;
  retryCount: number;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  updatedAt: string;
}

export function toApiJob(job: Job): ApiJob {
  return {
    id: job.id,
    jobId: job.id,
    run: job.run,
    type: job.type,
    status: job.status,
    progress: job.progress,
    contentHash: job.contentHash,
    manifestUri: job.manifestUri,
    registryAddress: job.registryAddress,
    priority: job.priority ?? "interactive",
    fileName: job.fileName,
    fileSize: job.fileSize,
    result: job.result,
    resultHistory: job.resultHistory.map((v) => ({ ...v, completedAt: v.completedAt === null ? null : new Date(v.completedAt).toISOString() })),
    error: job.error?.message ?? null,
    failure: job.error,
    retryCount: job.retryCount,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    completedAt: job.completedAt?.toISOString() ?? null,
    updatedAt: job.updatedAt.toISOString(),
  };
}

/** The status service's REST API over the projection. */
export function createStatusApp(deps: StatusAppDeps): Koa {
  const { sql, log } = deps;
  const app = new Koa();
  const router = createRouter({ prefix: JOBS_PATH });

  const loadJob = createJobLoader(deps);

  const tenantOf = (ctx: Koa.Context) => principalOf(ctx).tenant;
  const requireJob = async (raw: string, tenant: string): Promise<Job> => {
    const jobId = parseJobId(raw);
    const job = await loadJob(jobId, tenant);
    if (!job) throw new HttpError("E_JOB_NOT_FOUND", `no job ${jobId}`);
    return job;
  };
  const read = requireScope("read");

  router.use(async (ctx, next) => {
    ctx.set("cache-control", "no-store");
    await next();
  });
  // PostgreSQL down (or not migrated yet): 503 with Retry-After, never a 500.
  router.use(databaseErrors(deps.database));

  router.get("/stats", read, async (ctx) => {
    const [available, counts] = await Promise.all([deps.isStreamAvailable().catch(() => false), countByStatus(sql, tenantOf(ctx))]);
    ctx.body = {
      available,
      waiting: counts.queued,
      active: counts.processing,
      completed: counts.completed,
      failed: counts.failed,
    };
  });

  // `count` and `total` are every matching job, from the counters (exact, and as cheap at a
  // million jobs as at ten). A page after a `cursor` costs the same at any depth; `offset`
  // (the old API's paging) reads the rows it skips. Every page says where the next starts.
  router.get("/", read, async (ctx) => {
    const q = parseListQuery(ctx.query);
    const tenant = tenantOf(ctx);
    const { limit, offset, cursor, ...filter } = q;
    // The counters hold a tenant's jobs per status only: a type or hash filter has no total
    // (null) rather than a count(*) over the rows it matches on every refresh.
    const counted = filter.type === undefined && filter.contentHash === undefined;
    const [page, total] = await Promise.all([
      queryJobs(sql, tenant, filter, { limit, offset, after: cursor }),
      counted ? countJobs(sql, tenant, q.status) : null,
    ]);
    ctx.body = {
      jobs: page.jobs.map(toApiJob),
      count: total,
      total,
      limit: q.limit,
      offset: q.cursor ? null : q.offset,
      nextCursor: page.next ? encodeJobCursor(page.next) : null,
    };
  });

  router.get("/:jobId", read, async (ctx) => {
    ctx.body = toApiJob(await requireJob(ctx.params.jobId!, tenantOf(ctx)));
  });

  const changes = deps.changes;
  if (changes) {
    router.get("/:jobId/events", read, async (ctx) => {
      const jobId = parseJobId(ctx.params.jobId!);
      const tenant = tenantOf(ctx);
      const controller = new AbortController();
      const updates = await openJobWatch(changes, () => loadJob(jobId, tenant), jobId, controller.signal);
      if (!updates) throw new HttpError("E_JOB_NOT_FOUND", `no job ${jobId}`);
      streamJobEvents(ctx, updates, controller, { heartbeatMs: deps.sseHeartbeatMs ?? 15_000, toData: toApiJob, log });
    });
  }

  const retryJob = deps.retryJob;
  if (retryJob) {
    router.post("/:jobId/retry", requireScope("submit"), async (ctx) => {
      const jobId = parseJobId(ctx.params.jobId!);
      const { job, run, stage } = await retryJob(jobId, tenantOf(ctx));
      ctx.status = 202;
      ctx.set("location", jobPath(jobId));
      ctx.body = {
        jobId,
        run,
        stage,
        status: job.status,
        message: `Retry queued: run ${run} resumes at the ${stage} stage`,
        pollUrl: jobPath(jobId),
        job: toApiJob(job),
      };
    });
  }

  router.get("/:jobId/history", read, async (ctx) => {
    const job = await requireJob(ctx.params.jobId!, tenantOf(ctx));
    const events = await getJobEvents(sql, job.id);
    ctx.body = {
      jobId: job.id,
      events: events.map((e) => ({
        id: e.id,
        type: e.type,
        run: e.run,
        occurredAt: e.occurredAt.toISOString(),
        causationId: e.causationId,
        data: e.data,
        recordedAt: e.recordedAt.toISOString(),
      })),
    };
  });

  app.use(httpMetrics("status"));
  app.use(requestId());
  app.use(traceRequests(log, deps.tracing));
  app.use(errorHandler(log));
  // Every route, and every unknown path, answers only a valid key.
  app.use(authenticate(deps.authenticator));
  app.use(router.routes());
  app.use(methodsNotAllowed(router));
  const batches = createBatchRouter({ sql, ...(deps.database ? { database: deps.database } : {}) });
  app.use(batches.routes());
  app.use(methodsNotAllowed(batches));
  const watches = createWatchRouter({ sql, log, loadJob, ...(deps.publishWatchStop ? { publish: deps.publishWatchStop } : {}), ...(deps.database ? { database: deps.database } : {}) });
  app.use(watches.routes());
  app.use(methodsNotAllowed(watches));
  if (deps.deadLetters) {
    const deadLetters = createDeadLetterRouter(deps.deadLetters);
    app.use(deadLetters.routes());
    app.use(methodsNotAllowed(deadLetters));
  }
  if (deps.pipeline) {
    const pipeline = createPipelineRouter({ sql, log, sources: deps.pipeline, ...(deps.database ? { database: deps.database } : {}) });
    app.use(pipeline.routes());
    app.use(methodsNotAllowed(pipeline));
  }
  return app;
}

/** Job ids are uuids; anything else is the client's mistake, not a lookup. */
export function parseJobId(raw: string): string {
  if (!isJobId(raw)) {
    throw new HttpError("E_INVALID_JOB_ID", `job id must be a uuid, got "${raw.slice(0, 64)}"`);
  }
  return raw.toLowerCase();
}
