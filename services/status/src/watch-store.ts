import { tenantOf, type AnyJobEnvelope } from "@veriflow/events";
import type { Sql, TransactionSql } from "@veriflow/pg";
import type { JobCursor } from "./job-cursor.js";
import { toJob, type Job, type JobRow } from "./store.js";

/** The watches table's queries (migrations/012_watches.sql), one per function. */

/** What a watch adds to its job: what it asked for that the job row does not keep, and whether it was stopped. */
export interface WatchRecord {
  jobId: string;
  tenant: string;
  callbackUrl: string | null;
  recheckEveryS: number | null;
  createdAt: Date;
  stoppedAt: Date | null;
}

/**
 * In the projection's transaction: a request that gives its hash (a watch) records the watch,
 * a watch.stopped stops it (the first stop's time stays). Idempotent, in any order: a stop
 * that comes first makes the row its request completes.
 */
export async function recordWatches(tx: TransactionSql, events: readonly AnyJobEnvelope[]): Promise<void> {
  type Row = { job_id: string; tenant: string; callback_url: string | null; recheck_every_s: number | null; created_at: string; stopped_at: string | null };
  const rows = events.flatMap((e): Row[] => {
    if (e.type === "verification.requested" && e.data.contentHash !== undefined) {
      const r = e.data.request;
      return [{ job_id: e.data.jobId, tenant: tenantOf(e), callback_url: r.callbackUrl, recheck_every_s: r.recheckEverySeconds ?? null, created_at: e.occurredAt, stopped_at: null }];
    }
    if (e.type === "watch.stopped") return [{ job_id: e.data.jobId, tenant: tenantOf(e), callback_url: null, recheck_every_s: null, created_at: e.occurredAt, stopped_at: e.data.stoppedAt }];
    return [];
  });
  if (rows.length === 0) return;
  // One row per watch (a batch may hold its request and its stop): merged as the upsert merges them.
  const byJob = new Map<string, Row>();
  for (const r of rows) {
    const had = byJob.get(r.job_id);
    byJob.set(
      r.job_id,
      had
        ? {
            ...had,
            callback_url: had.callback_url ?? r.callback_url,
            recheck_every_s: had.recheck_every_s ?? r.recheck_every_s,
            created_at: had.created_at < r.created_at ? had.created_at : r.created_at,
            stopped_at: had.stopped_at ?? r.stopped_at,
          }
        : r,
    );
  }
  const merged = [...byJob.values()].sort((a, b) => (a.job_id < b.job_id ? -1 : 1));
  await tx`
    insert into watches as w (job_id, tenant, callback_url, recheck_every_s, created_at, stopped_at)
    select job_id, tenant, callback_url, recheck_every_s, created_at, stopped_at
    from jsonb_to_recordset(${tx.json(merged)}) as r(job_id text, tenant text, callback_url text, recheck_every_s integer, created_at timestamptz, stopped_at timestamptz)
    on conflict (job_id) do update set
      callback_url = coalesce(w.callback_url, excluded.callback_url),
      recheck_every_s = coalesce(w.recheck_every_s, excluded.recheck_every_s),
      created_at = least(w.created_at, excluded.created_at),
      stopped_at = coalesce(w.stopped_at, excluded.stopped_at)`;
}

/** A watch of `tenant`, with its job; null for none and for another tenant's alike. */
export async function getTenantWatch(sql: Sql, jobId: string, tenant: string): Promise<{ watch: WatchRecord; job: Job } | null> {
  const [row] = await sql<(JobRow & { watch: WatchRecord })[]>`
    select j.*, row_to_json(w.*) as watch from watches w join verification_jobs j on j.id = w.job_id
    where w.job_id = ${jobId} and w.tenant = ${tenant}`;
  return row ? pairOf(row) : null;
}

export interface WatchPageRequest {
  active?: boolean;
  limit: number;
  offset: number;
  after?: JobCursor;
}

/** A page of a tenant's watches, newest first (created_at, then id), one row past it saying whether there is a next. */
export async function listTenantWatches(sql: Sql, tenant: string, page: WatchPageRequest): Promise<{ watches: { watch: WatchRecord; job: Job }[]; next: JobCursor | null; total: number }> {
  const active = page.active === undefined ? sql`` : page.active ? sql`and w.stopped_at is null` : sql`and w.stopped_at is not null`;
  const after = page.after ? sql`and (w.created_at, w.job_id) < (${page.after.createdAt}, ${page.after.id})` : sql``;
  const [rows, [count]] = await Promise.all([
    sql<(JobRow & { watch: WatchRecord })[]>`
      select j.*, row_to_json(w.*) as watch from watches w join verification_jobs j on j.id = w.job_id
      where w.tenant = ${tenant} ${active} ${after}
      order by w.created_at desc, w.job_id desc
      limit ${page.limit + 1} ${page.offset ? sql`offset ${page.offset}` : sql``}`,
    sql<{ n: number }[]>`select count(*)::integer as n from watches w where w.tenant = ${tenant} ${active}`,
  ]);
  const watches = rows.slice(0, page.limit).map(pairOf);
  const last = watches[watches.length - 1];
  return { watches, next: rows.length > page.limit && last ? { createdAt: last.watch.createdAt, id: last.watch.jobId } : null, total: count?.n ?? 0 };
}

/** row_to_json keeps the column names and writes timestamps as text: read back as a WatchRecord. */
function pairOf(row: JobRow & { watch: WatchRecord }): { watch: WatchRecord; job: Job } {
  const { watch: raw, ...job } = row;
  const w = raw as unknown as Record<string, unknown>;
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
  return {
    job: toJob(job),
    watch: {
      jobId: w.job_id as string,
      tenant: w.tenant as string,
      callbackUrl: (w.callback_url as string | null) ?? null,
      recheckEveryS: (w.recheck_every_s as number | null) ?? null,
      createdAt: date(w.created_at)!,
      stoppedAt: date(w.stopped_at),
    },
  };
}
