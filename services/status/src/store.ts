import { TERMINAL_RANK, firstOfEachId, isBatchEvent, runOf, type AnyEnvelope, type AnyJobEnvelope, type EventType } from "@veriflow/events";
import { completeBatches, recordBatches, type CompletedBatch } from "./batch-store.js";
import { recordWatches } from "./watch-store.js";
import { storable, type Sql, type TransactionSql } from "@veriflow/pg";
import { endedJobRuns, runStartsOf, type EndedJobRun } from "./job-duration.js";
import { MAX_RETRY_COUNT, foldEvents, type JobPatch } from "./projection.js";

/** A job as stored by the projection: what its events established, plus when the row last changed. */
export interface Job extends JobPatch {
  updatedAt: Date;
}

/** One recorded event of a job's history. */
export interface JobEvent {
  id: string;
  type: EventType;
  /** The job's run the event belongs to (1, or n + 1 after the nth retry). */
  run: number;
  occurredAt: Date;
  causationId: string | null;
  data: unknown;
  recordedAt: Date;
}

export interface ApplyResult {
  /** Events recorded for the first time (the rest were redeliveries). */
  applied: number;
  /** Jobs whose rows were written. */
  jobIds: string[];
  /** The job runs this batch ended (their first terminal event), for the job duration metric. */
  ended: EndedJobRun[];
  /** Batches whose last job this transaction ended: their batch.completed is to be published. */
  completedBatches: CompletedBatch[];
}

/**
 * Projects a batch in one transaction: records the events (a redelivered one inserts
 * nothing; strings PostgreSQL cannot store, NUL and lone surrogates, become U+FFFD first),
 * folds the new ones per job, and upserts one row per job with the projection's
 * monotonic rules restated in SQL against the stored row. Rows and events are written
 * in key order, so concurrent batches lock in the same order. The per-tenant counts
 * (job-counts.ts) follow in the same transaction, by trigger, from what the upsert did.
 */
export async function applyEvents(sql: Sql, events: readonly AnyEnvelope[]): Promise<ApplyResult> {
  // The first of a batch's events with one id wins, as in the table: a job's terminal events
  // share one id (terminalEventId), so a later completion or failure is dropped here too.
  const all = firstOfEachId(events).map(storable);
  const batches = all.filter(isBatchEvent);
  const unique = all.filter((e): e is AnyJobEnvelope => !isBatchEvent(e));
  if (all.length === 0) return { applied: 0, jobIds: [], ended: [], completedBatches: [] };
  return sql.begin(async (tx) => {
    const jobs = await applyJobEvents(tx, unique);
    await recordWatches(tx, unique);
    const recorded = await recordBatches(tx, batches);
    // Any batch a written job belongs to, or just recorded, may now be complete.
    const completedBatches = await completeBatches(tx, [...new Set([...jobs.batchIds, ...recorded])]);
    return { applied: jobs.applied + recorded.length, jobIds: jobs.jobIds, ended: jobs.ended, completedBatches };
  });
}

/** The job events of a batch, in the projection's transaction; also which batches the written rows belong to. */
async function applyJobEvents(tx: TransactionSql, unique: readonly AnyJobEnvelope[]): Promise<Omit<ApplyResult, "completedBatches"> & { batchIds: string[] }> {
  const none = { applied: 0, jobIds: [], ended: [], batchIds: [] };
  if (unique.length === 0) return none;
  const eventRows = unique
    .map((e) => ({
      event_id: e.id,
      job_id: e.data.jobId,
      type: e.type,
      occurred_at: e.occurredAt,
      causation_id: e.causationId,
      run: runOf(e),
      data: e.data,
    }))
    .sort((a, b) => (a.event_id < b.event_id ? -1 : 1));

  {
    const inserted = await tx<{ eventId: string }[]>`
      insert into verification_job_events (event_id, job_id, type, occurred_at, causation_id, run, data)
      select e.event_id, e.job_id, e.type, e.occurred_at, e.causation_id, e.run, e.data
      from jsonb_to_recordset(${tx.json(eventRows)}) as e(
        event_id text, job_id text, type text, occurred_at timestamptz, causation_id text, run integer, data jsonb)
      on conflict (event_id) do nothing
      returning event_id`;
    if (inserted.length === 0) return none;
    const fresh = new Set(inserted.map((r) => r.eventId));
    const freshEvents = unique.filter((e) => fresh.has(e.id));
    const patches = [...foldEvents(freshEvents).values()];
    patches.sort((a, b) => (a.id < b.id ? -1 : 1));
    // State columns follow mergePatches: a later run replaces them, an earlier run's late
    // event leaves them, and within a run they only climb until the first terminal state.
    const later = tx`excluded.run > j.run`;
    const settled = tx`(excluded.run < j.run or verification_job_status_rank(j.status) = ${TERMINAL_RANK})`;
    const rows = await tx<{ id: string; type: string | null; createdAt: Date; batchId: string | null }[]>`
      insert into verification_jobs as j (
        id, tenant, run, type, status, progress, content_hash, manifest_uri, registry_address, rpc_url, priority,
        file_name, file_size, batch_id, result, result_history, error, retry_count, created_at, started_at, completed_at,
        updated_at, last_event_at)
      select p.id, p.tenant, p.run, p.type, p.status, p.progress, p.content_hash, p.manifest_uri, p.registry_address,
        p.rpc_url, p.priority, p.file_name, p.file_size, p.batch_id, p.result, coalesce(p.result_history, '[]'::jsonb), p.error, p.retry_count, p.created_at,
        p.started_at, p.completed_at, now(), p.last_event_at
      from jsonb_to_recordset(${tx.json(patches.map(toRow) as never)}) as p(
        id text, tenant text, run integer, type text, status text, progress integer, content_hash text, manifest_uri text,
        registry_address text, rpc_url text, priority text, file_name text, file_size bigint, batch_id text, result jsonb, result_history jsonb,
        error jsonb, retry_count integer, created_at timestamptz, started_at timestamptz,
        completed_at timestamptz, last_event_at timestamptz)
      on conflict (id) do update set
        run = greatest(j.run, excluded.run),
        type = coalesce(j.type, excluded.type),
        status = case
          when ${later} then excluded.status
          when excluded.run < j.run then j.status
          when verification_job_status_rank(excluded.status) > verification_job_status_rank(j.status)
          then excluded.status else j.status end,
        progress = case
          when ${later} then excluded.progress
          when ${settled} then j.progress
          else greatest(j.progress, excluded.progress) end,
        content_hash = coalesce(j.content_hash, excluded.content_hash),
        manifest_uri = coalesce(j.manifest_uri, excluded.manifest_uri),
        registry_address = coalesce(j.registry_address, excluded.registry_address),
        rpc_url = coalesce(j.rpc_url, excluded.rpc_url),
        priority = coalesce(j.priority, excluded.priority),
        file_name = coalesce(j.file_name, excluded.file_name),
        file_size = coalesce(j.file_size, excluded.file_size),
        batch_id = coalesce(j.batch_id, excluded.batch_id),
        result = case when ${later} then excluded.result when ${settled} then j.result else excluded.result end,
        result_history = case
          when ${later} and j.result is not null then j.result_history || ${verdictRecord(tx, "j")} || excluded.result_history
          when ${later} then j.result_history || excluded.result_history
          when excluded.run < j.run and excluded.result is not null then j.result_history || ${verdictRecord(tx, "excluded")} || excluded.result_history
          else j.result_history || excluded.result_history end,
        error = case when ${later} then excluded.error when ${settled} then j.error else excluded.error end,
        completed_at = case when ${later} then excluded.completed_at when ${settled} then j.completed_at else excluded.completed_at end,
        retry_count = least(j.retry_count::bigint + excluded.retry_count, ${MAX_RETRY_COUNT}),
        created_at = least(j.created_at, excluded.created_at),
        started_at = least(j.started_at, excluded.started_at),
        last_event_at = greatest(j.last_event_at, excluded.last_event_at),
        updated_at = now()
      returning j.id, j.type, j.created_at, j.batch_id`;
    const starts = await runStartsOf(tx, freshEvents, rows);
    const ended = endedJobRuns(freshEvents, new Map(rows.map((r) => [r.id, r.type])), starts);
    const batchIds = [...new Set(rows.map((r) => r.batchId).filter((b): b is string => b !== null))];
    return { applied: fresh.size, jobIds: patches.map((p) => p.id), ended, batchIds };
  }
}

/**
 * The history entry of the verdict a row (`j`) or an incoming patch (`excluded`) holds: what
 * verdictRecordOf (projection.ts) makes of a patch, in SQL. Sorted by run when read.
 */
function verdictRecord(tx: TransactionSql, row: "j" | "excluded") {
  if (row === "j") {
    return tx`jsonb_build_array(jsonb_build_object('run', j.run, 'status', j.result->'status', 'reasons', coalesce(j.result->'reasons', '[]'::jsonb),
      'blockNumber', j.result->'onchain'->'blockNumber', 'completedAt', j.completed_at, 'result', j.result))`;
  }
  return tx`jsonb_build_array(jsonb_build_object('run', excluded.run, 'status', excluded.result->'status', 'reasons', coalesce(excluded.result->'reasons', '[]'::jsonb),
    'blockNumber', excluded.result->'onchain'->'blockNumber', 'completedAt', excluded.completed_at, 'result', excluded.result))`;
}

/** A patch as a jsonb_to_recordset row; absent keys read as SQL NULL. */
function toRow(p: JobPatch) {
  return {
    id: p.id,
    tenant: p.tenant,
    run: p.run,
    type: p.type ?? undefined,
    status: p.status,
    progress: p.progress,
    content_hash: p.contentHash ?? undefined,
    manifest_uri: p.manifestUri ?? undefined,
    registry_address: p.registryAddress ?? undefined,
    rpc_url: p.rpcUrl ?? undefined,
    priority: p.priority ?? undefined,
    file_name: p.fileName ?? undefined,
    file_size: p.fileSize ?? undefined,
    batch_id: p.batchId ?? undefined,
    result: p.result ?? undefined,
    result_history: p.resultHistory,
    error: p.error ?? undefined,
    retry_count: p.retryCount,
    created_at: p.createdAt.toISOString(),
    started_at: p.startedAt?.toISOString(),
    completed_at: p.completedAt?.toISOString(),
    last_event_at: p.lastEventAt.toISOString(),
  };
}

/** A row as postgres.js reads it: bigint file_size comes as a string. */
export type JobRow = Omit<Job, "fileSize"> & { fileSize: string | null };

export function toJob(row: JobRow): Job {
  return { ...row, fileSize: row.fileSize === null ? null : Number(row.fileSize) };
}

export async function getJob(sql: Sql, id: string): Promise<Job | null> {
  const [row] = await sql<JobRow[]>`select * from verification_jobs where id = ${id}`;
  return row ? toJob(row) : null;
}

/** A job of `tenant`: another tenant's job is none (every edge answers it as not found). */
export async function getTenantJob(sql: Sql, id: string, tenant: string): Promise<Job | null> {
  const [row] = await sql<JobRow[]>`select * from verification_jobs where id = ${id} and tenant = ${tenant}`;
  return row ? toJob(row) : null;
}

/** A job's recorded events, oldest first. */
export async function getJobEvents(sql: Sql, jobId: string): Promise<JobEvent[]> {
  return sql<JobEvent[]>`
    select event_id as id, type, run, occurred_at, causation_id, data, recorded_at
    from verification_job_events where job_id = ${jobId}
    order by occurred_at, recorded_at, event_id`;
}

/** The jobs with these ids that exist (any order). */
export async function getJobs(sql: Sql, ids: readonly string[]): Promise<Job[]> {
  if (ids.length === 0) return [];
  const rows = await sql<JobRow[]>`select * from verification_jobs where id = any(${sql.array([...ids])})`;
  return rows.map(toJob);
}

/** Jobs that are completed or failed and whose row was written at or after `since`. */
export async function getTerminalJobsSince(sql: Sql, since: Date, limit: number): Promise<Job[]> {
  const rows = await sql<JobRow[]>`
    select * from verification_jobs
    where status in ('completed', 'failed') and updated_at >= ${since}
    order by updated_at
    limit ${limit}`;
  return rows.map(toJob);
}

/** What one prune batch deleted. */
export interface PrunedJobs {
  jobs: number;
  events: number;
}

/**
 * Deletes up to `limit` jobs that reached `status` more than `maxAgeMs` ago, oldest first,
 * with their recorded events (and a stopped watch's record), in one statement; an active watch's job is
 * kept. The rows are picked FOR UPDATE SKIP LOCKED:
 * replicas pruning together take different rows, and a row the projection is writing is
 * left for the next pass.
 */
export async function pruneJobs(sql: Sql, status: "completed" | "failed", maxAgeMs: number, limit: number): Promise<PrunedJobs> {
  const [row] = await sql<PrunedJobs[]>`
    with doomed as (
      select id from verification_jobs
      where status = ${status} and completed_at < now() - ${maxAgeMs}::float8 * interval '1 millisecond'
        -- A watch's job is kept while it is followed: its verdict is the watch's.
        and not exists (select 1 from watches w where w.job_id = verification_jobs.id and w.stopped_at is null)
      order by completed_at
      limit ${limit}
      for update skip locked
    ), events as (
      delete from verification_job_events e using doomed where e.job_id = doomed.id returning 1
    ), jobs as (
      delete from verification_jobs j using doomed where j.id = doomed.id returning 1
    ), stopped_watches as (
      delete from watches w using doomed where w.job_id = doomed.id
    )
    select (select count(*) from jobs)::integer as jobs, (select count(*) from events)::integer as events`;
  return row ?? { jobs: 0, events: 0 };
}
