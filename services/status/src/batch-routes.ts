import { BATCHES_PATH, JOBS_PAGE_SIZE, isJobId, jobStatuses, type JobStatus } from "@veriflow/events";
import { createRouter, principalOf, requireScope } from "@veriflow/http";
import { HttpError, badRequest } from "@veriflow/errors";
import { databaseErrors, type DatabaseReadiness, type Sql } from "@veriflow/pg";
import { getTenantBatch, listBatchJobs, type CompletedBatch } from "./batch-store.js";
import { toApiJob } from "./routes.js";
import type { Job } from "./store.js";

/**
 * GET /api/verification-batches/:batchId: a batch of the caller's tenant, its counts (from
 * its jobs' rows) and a page of its jobs (`limit`, `offset`, `status`, as the job list).
 */
export function createBatchRouter(deps: { sql: Sql; database?: DatabaseReadiness }) {
  const router = createRouter({ prefix: BATCHES_PATH });
  router.use(async (ctx, next) => {
    ctx.set("cache-control", "no-store");
    await next();
  });
  router.use(databaseErrors(deps.database));
  router.get("/:batchId", requireScope("read"), async (ctx) => {
    const batchId = parseBatchId(ctx.params.batchId!);
    const page = parseBatchPage(ctx.query);
    const found = await getTenantBatch(deps.sql, batchId, principalOf(ctx).tenant);
    if (!found) throw new HttpError("E_BATCH_NOT_FOUND", `no batch ${batchId}`);
    const jobs = await listBatchJobs(deps.sql, batchId, page);
    ctx.body = toApiBatch(found, jobs, page);
  });
  return router;
}

export function toApiBatch({ batch, counts }: CompletedBatch, jobs: readonly Job[], page: { limit: number; offset: number }) {
  const { verdicts, ...byStatus } = counts;
  return {
    batchId: batch.id,
    type: batch.jobType,
    registryAddress: batch.registryAddress,
    createdAt: batch.createdAt.toISOString(),
    total: batch.total,
    rejected: batch.rejected,
    counts: byStatus,
    verdicts,
    // Every job ended: the moment its batch.completed was decided (it stays done if a job is retried later).
    done: batch.completedAt !== null,
    completedAt: batch.completedAt?.toISOString() ?? null,
    jobs: jobs.map(toApiJob),
    limit: page.limit,
    offset: page.offset,
  };
}

export function parseBatchId(raw: string): string {
  if (!isJobId(raw)) throw badRequest("E_INVALID_BATCH_ID", `batch id must be a uuid, got "${raw.slice(0, 64)}"`);
  return raw.toLowerCase();
}

/** `limit` (default 20, at most 100), `offset`, `status`: every problem at once. */
export function parseBatchPage(query: Record<string, string | string[] | undefined>): { limit: number; offset: number; status?: JobStatus } {
  const problems: string[] = [];
  const int = (name: string, fallback: number, max: number) => {
    const raw = query[name];
    if (raw === undefined) return fallback;
    const n = typeof raw === "string" && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (Number.isNaN(n)) problems.push(`${name} must be a whole number`);
    return Number.isNaN(n) ? fallback : Math.min(n, max);
  };
  const limit = Math.max(1, int("limit", JOBS_PAGE_SIZE.default, JOBS_PAGE_SIZE.max));
  const offset = int("offset", 0, 1_000_000);
  const status = query.status;
  if (status !== undefined && !(jobStatuses as readonly unknown[]).includes(status)) problems.push(`status must be one of ${jobStatuses.join(", ")}`);
  if (problems.length > 0) throw badRequest("E_INVALID_QUERY", problems.join("; "));
  return { limit, offset, ...(status ? { status: status as JobStatus } : {}) };
}
