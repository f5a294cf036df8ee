import { tenantOf, type AnyBatchEnvelope, type JobStatus } from "@veriflow/events";
import type { Sql, TransactionSql } from "@veriflow/pg";
import { toJob, type Job, type JobRow } from "./store.js";

/**
 * Batches (migration 009): recorded from `batch.submitted`, counted from their jobs' rows,
 * completed once by the projection transaction that records their last job's ending.
 */

/** A batch as recorded. */
export interface Batch {
  id: string;
  tenant: string;
  jobType: string;
  registryAddress: string;
  total: number;
  rejected: number;
  callbackUrl: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

/** How many of a batch's jobs are in each status, and the verdicts of the completed ones. */
export interface BatchCounts {
  queued: number;
  processing: number;
  completed: number;
  failed: number;
  verdicts: { OK: number; WARN: number; FAIL: number };
}

/** A batch whose last job ended: what its batch.completed says. */
export interface CompletedBatch {
  batch: Batch;
  counts: BatchCounts;
}

/** Records the batches of `batch.submitted` events (a redelivery inserts nothing); returns the ids recorded now. */
export async function recordBatches(tx: TransactionSql, events: readonly AnyBatchEnvelope[]): Promise<string[]> {
  const rows = events.flatMap((e) =>
    e.type === "batch.submitted"
      ? [{ id: e.data.batchId, tenant: tenantOf(e), job_type: e.data.jobType, registry_address: e.data.registryAddress, total: e.data.total, rejected: e.data.rejected, callback_url: e.data.callbackUrl ?? undefined, created_at: e.occurredAt }]
      : [],
  );
  if (rows.length === 0) return [];
  rows.sort((a, b) => (a.id < b.id ? -1 : 1));
  const inserted = await tx<{ id: string }[]>`
    insert into verification_batches (id, tenant, job_type, registry_address, total, rejected, callback_url, created_at)
    select b.id, b.tenant, b.job_type, b.registry_address, b.total, b.rejected, b.callback_url, b.created_at
    from jsonb_to_recordset(${tx.json(rows)}) as b(
      id text, tenant text, job_type text, registry_address text, total integer, rejected integer, callback_url text, created_at timestamptz)
    on conflict (id) do nothing
    returning id`;
  return inserted.map((r) => r.id);
}

/**
 * Marks complete those of `ids` whose jobs have all ended. The open batches are locked
 * first, in key order, and counted in a later statement (a fresh snapshot under READ
 * COMMITTED): of two transactions ending a batch's last two jobs, the second waits for the
 * first, then sees both endings. `completed_at is null` makes the completion happen once.
 */
export async function completeBatches(tx: TransactionSql, ids: readonly string[]): Promise<CompletedBatch[]> {
  if (ids.length === 0) return [];
  const open = await tx<{ id: string }[]>`
    select id from verification_batches where id = any(${tx.array([...ids].sort())}) and completed_at is null
    order by id for update`;
  if (open.length === 0) return [];
  const done = await tx<(Batch & BatchCountsRow)[]>`
    with counts as (${countsQuery(tx, open.map((b) => b.id))})
    update verification_batches b set completed_at = now()
    from counts c
    where b.id = c.batch_id and c.completed + c.failed >= b.total
    returning b.*, c.queued, c.processing, c.completed, c.failed, c.ok, c.warn, c.fail`;
  return done.map(toCompleted);
}

/** Completions committed but not yet published (oldest first), whoever committed them. */
export async function findUnpublishedCompletions(sql: Sql, limit: number): Promise<CompletedBatch[]> {
  const batches = await sql<(Batch & { id: string })[]>`
    select * from verification_batches where completed_at is not null and completion_published_at is null
    order by completed_at limit ${limit}`;
  if (batches.length === 0) return [];
  const counts = await sql<BatchCountsRow[]>`${countsQuery(sql, batches.map((b) => b.id))}`;
  const byId = new Map(counts.map((c) => [c.batchId, c]));
  return batches.map((b) => ({ batch: toBatch(b), counts: countsOf(byId.get(b.id)) }));
}

export async function markCompletionsPublished(sql: Sql, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`update verification_batches set completion_published_at = now() where id = any(${sql.array([...ids])}) and completion_published_at is null`;
}

/** A batch of `tenant` with its counts; another tenant's batch is none. */
export async function getTenantBatch(sql: Sql, id: string, tenant: string): Promise<CompletedBatch | null> {
  const [row] = await sql<Batch[]>`select * from verification_batches where id = ${id} and tenant = ${tenant}`;
  if (!row) return null;
  const [counts] = await sql<BatchCountsRow[]>`${countsQuery(sql, [id])}`;
  return { batch: toBatch(row), counts: countsOf(counts) };
}

/** A page of a batch's jobs, newest first, optionally of one status. */
export async function listBatchJobs(sql: Sql, batchId: string, page: { status?: JobStatus; limit: number; offset: number }): Promise<Job[]> {
  const rows = await sql<JobRow[]>`
    select * from verification_jobs where batch_id = ${batchId}
    ${page.status ? sql`and status = ${page.status}` : sql``}
    order by created_at desc, id desc limit ${page.limit} offset ${page.offset}`;
  return rows.map(toJob);
}

interface BatchCountsRow {
  batchId: string;
  queued: number;
  processing: number;
  completed: number;
  failed: number;
  ok: number;
  warn: number;
  fail: number;
}

function countsQuery(sql: Sql | TransactionSql, ids: readonly string[]) {
  return sql`
    select batch_id,
      count(*) filter (where status = 'queued')::integer as queued,
      count(*) filter (where status = 'processing')::integer as processing,
      count(*) filter (where status = 'completed')::integer as completed,
      count(*) filter (where status = 'failed')::integer as failed,
      count(*) filter (where status = 'completed' and result->>'status' = 'OK')::integer as ok,
      count(*) filter (where status = 'completed' and result->>'status' = 'WARN')::integer as warn,
      count(*) filter (where status = 'completed' and result->>'status' = 'FAIL')::integer as fail
    from verification_jobs where batch_id = any(${sql.array([...ids])})
    group by batch_id`;
}

function countsOf(row: BatchCountsRow | undefined): BatchCounts {
  return {
    queued: row?.queued ?? 0,
    processing: row?.processing ?? 0,
    completed: row?.completed ?? 0,
    failed: row?.failed ?? 0,
    verdicts: { OK: row?.ok ?? 0, WARN: row?.warn ?? 0, FAIL: row?.fail ?? 0 },
  };
}

function toBatch(row: Batch): Batch {
  const { id, tenant, jobType, registryAddress, total, rejected, callbackUrl, createdAt, completedAt } = row;
  return { id, tenant, jobType, registryAddress, total, rejected, callbackUrl, createdAt, completedAt };
}

function toCompleted(row: Batch & BatchCountsRow): CompletedBatch {
  return { batch: toBatch(row), counts: countsOf(row) };
}

/**
 * Deletes up to `limit` batches whose completion was published more than `maxAgeMs` ago and
 * none of whose jobs is left (jobs are pruned by their own ages: a batch is kept while any of
 * its jobs is, so its page never lists fewer jobs than it counts). Picked SKIP LOCKED, as jobs are.
 */
export async function pruneBatches(sql: Sql, maxAgeMs: number, limit: number): Promise<number> {
  const [row] = await sql<{ batches: number }[]>`
    with doomed as (
      select b.id from verification_batches b
      where b.completion_published_at is not null
        and b.completed_at < now() - ${maxAgeMs}::float8 * interval '1 millisecond'
        and not exists (select 1 from verification_jobs j where j.batch_id = b.id)
      order by b.completed_at
      limit ${limit}
      for update skip locked
    ), gone as (
      delete from verification_batches b using doomed where b.id = doomed.id returning 1
    )
    select (select count(*) from gone)::integer as batches`;
  return row?.batches ?? 0;
}
