import { WATCHES_PATH, createEvent, isJobId, type AnyEnvelope } from "@veriflow/events";
import { ListWatchesQuery, readQueryFields, refuseQueryProblems, type Query } from "@veriflow/api";
import { createRouter, principalOf, requireScope } from "@veriflow/http";
import { HttpError, badRequest } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";
import { databaseErrors, type DatabaseReadiness, type Sql } from "@veriflow/pg";
import { encodeJobCursor } from "./job-cursor.js";
import { readPageStart } from "./list-query.js";
import type { JobLoader } from "./load-job.js";
import { applyEvents, type Job } from "./store.js";
import { getTenantWatch, listTenantWatches, type WatchPageRequest, type WatchRecord } from "./watch-store.js";

export interface WatchDeps {
  sql: Sql;
  log: Logger;
  /** Reads a job with read-your-write (a watch is readable the moment the gateway answers 202). */
  loadJob: JobLoader;
  /** Publishes watch.stopped (its id is the Nats-Msg-Id); without it there is no DELETE. */
  publish?: (event: AnyEnvelope) => Promise<void>;
  database?: DatabaseReadiness;
  now?: () => Date;
}

/** A watch as the API shows it: its request, whether it is followed, and its job's verdicts. */
export function toApiWatch({ watch, job }: { watch: WatchRecord; job: Job }) {
  return {
    watchId: job.id,
    contentHash: job.contentHash!,
    manifestUri: job.manifestUri,
    registryAddress: job.registryAddress,
    callbackUrl: watch.callbackUrl,
    recheckEverySeconds: watch.recheckEveryS,
    active: watch.stoppedAt === null,
    createdAt: watch.createdAt.toISOString(),
    stoppedAt: watch.stoppedAt?.toISOString() ?? null,
    status: job.status,
    run: job.run,
    verdict: job.result,
    verifiedAt: job.result === null ? null : (job.completedAt?.toISOString() ?? null),
    verdictHistory: job.resultHistory.map((v) => ({ ...v, completedAt: v.completedAt === null ? null : new Date(v.completedAt).toISOString() })),
    failure: job.error,
    updatedAt: job.updatedAt.toISOString(),
  };
}
export type ApiWatch = ReturnType<typeof toApiWatch>;

/** One of a tenant's watches (read-your-write, as a job); E_WATCH_NOT_FOUND for none, another tenant's, or a job that is no watch. */
export function createWatchReader(deps: Pick<WatchDeps, "sql" | "loadJob">) {
  return async (raw: string, tenant: string) => {
    const jobId = parseWatchId(raw);
    const found = (await getTenantWatch(deps.sql, jobId, tenant)) ?? ((await deps.loadJob(jobId, tenant)) ? await getTenantWatch(deps.sql, jobId, tenant) : null);
    if (!found) throw new HttpError("E_WATCH_NOT_FOUND", `no watch ${jobId}`);
    return found;
  };
}

/**
 * Stops one of a tenant's watches: publishes watch.stopped (an id derived from the job's, so
 * every DELETE of it, on any replica, publishes the one event the stream keeps), then projects
 * it here (read-your-write; the consumer's copy is then a no-op). registry-watch, reading it,
 * starts no more runs of the job. Stopping a stopped watch publishes the same event again.
 */
export function createWatchStop(deps: Required<Pick<WatchDeps, "sql" | "log" | "loadJob" | "publish">> & { now?: () => Date }) {
  const read = createWatchReader(deps);
  return async (raw: string, tenant: string): Promise<void> => {
    const { watch, job } = await read(raw, tenant);
    const stoppedAt = (watch.stoppedAt ?? (deps.now ?? (() => new Date()))()).toISOString();
    const event = createEvent("watch.stopped", { jobId: job.id, stoppedAt }, { id: job.id, correlationId: job.id, tenant: job.tenant }) as AnyEnvelope;
    await deps.publish(event);
    await applyEvents(deps.sql, [event]);
    if (watch.stoppedAt === null) deps.log.info({ jobId: job.id, tenant }, "watch stopped");
  };
}

/** GET /api/watches, GET and DELETE /api/watches/:watchId: the caller's tenant's watches. */
export function createWatchRouter(deps: WatchDeps) {
  const router = createRouter({ prefix: WATCHES_PATH });
  router.use(async (ctx, next) => {
    ctx.set("cache-control", "no-store");
    await next();
  });
  router.use(databaseErrors(deps.database));
  const read = createWatchReader(deps);
  router.get("/", requireScope("read"), async (ctx) => {
    const page = parseWatchQuery(ctx.query);
    const { watches, next, total } = await listTenantWatches(deps.sql, principalOf(ctx).tenant, page);
    ctx.body = {
      watches: watches.map(toApiWatch),
      count: total,
      total,
      limit: page.limit,
      offset: page.after ? null : page.offset,
      nextCursor: next ? encodeJobCursor(next) : null,
    };
  });
  router.get("/:watchId", requireScope("read"), async (ctx) => {
    ctx.body = toApiWatch(await read(ctx.params.watchId!, principalOf(ctx).tenant));
  });
  if (deps.publish) {
    const stop = createWatchStop({ ...deps, publish: deps.publish });
    router.delete("/:watchId", requireScope("submit"), async (ctx) => {
      await stop(ctx.params.watchId!, principalOf(ctx).tenant);
      ctx.status = 204;
    });
  }
  return router;
}

export function parseWatchId(raw: string): string {
  if (!isJobId(raw)) throw badRequest("E_INVALID_WATCH_ID", `watch id must be a uuid, got "${raw.slice(0, 64)}"`);
  return raw.toLowerCase();
}

/** `active`, `limit` (default 20, at most 100), `offset` or `cursor`: every problem at once. */
export function parseWatchQuery(query: Query): WatchPageRequest {
  const { values, problems } = readQueryFields(ListWatchesQuery, query);
  const cursor = readPageStart(values, problems);
  refuseQueryProblems(problems);
  return {
    ...(values.active ? { active: values.active === "true" } : {}),
    limit: values.limit!,
    offset: values.offset!,
    ...(cursor ? { after: cursor } : {}),
  };
}
