import type { Envelope, VerdictSummary } from "@veriflow/events";
import type { Sql, TransactionSql } from "@veriflow/pg";
import type { RegistryLog } from "./read-window.js";

/** registry-watch's queries, one per function (its tables: migrations/001_registry_watch.sql). */

type Db = Sql | TransactionSql;

export interface WatchedJob {
  jobId: string;
  tenant: string;
  contentHash: string;
  registryAddress: string;
  manifestUri: string;
  run: number;
  hashed: Envelope<"content.hashed">;
  verdict: VerdictSummary | null;
  verdictRun: number | null;
  /** The job's recheckEvery, in seconds; null: re-verified only when its entry changes. */
  recheckEveryS: number | null;
  /** A watch (its request gave the hash): followed on its own, never folded into another job of the same content. */
  watch: boolean;
}

/** A job is followed unless it is a stopped watch. */
const NOT_STOPPED = (db: Db, alias: string) => db`not exists (select 1 from stopped_watches s where s.job_id = ${db(alias)}.job_id)`;

export interface WatchedRegistry {
  address: string;
  firstBlock: number;
  nextBlock: number;
}

/** Keeps the latest run's content.hashed of a job; an earlier run arriving late changes nothing. */
export async function rememberRun(db: Db, job: Omit<WatchedJob, "verdict" | "verdictRun" | "recheckEveryS" | "watch">): Promise<void> {
  const every = job.hashed.data.request.recheckEverySeconds ?? null;
  const watch = job.hashed.data.hashGiven === true;
  await db`
    insert into watched_jobs (job_id, tenant, content_hash, registry_address, manifest_uri, run, hashed, recheck_every_s, watch)
    values (${job.jobId}, ${job.tenant}, ${job.contentHash.toLowerCase()}, ${job.registryAddress.toLowerCase()}, ${job.manifestUri}, ${job.run}, ${db.json(job.hashed as never)}, ${every}, ${watch})
    on conflict (job_id) do update set
      run = greatest(watched_jobs.run, excluded.run),
      hashed = case when excluded.run >= watched_jobs.run then excluded.hashed else watched_jobs.hashed end,
      updated_at = now()`;
}

/** The job, locked until the transaction ends (a batch and a pass never interleave on it), and whether it is a stopped watch. */
export async function lockWatchedJob(db: Db, jobId: string): Promise<(WatchedJob & { stopped: boolean }) | null> {
  const [row] = await db<(WatchedJob & { stopped: boolean })[]>`
    select w.*, not ${NOT_STOPPED(db, "w")} as stopped from watched_jobs w where w.job_id = ${jobId} for update`;
  return row ?? null;
}

/**
 * A watch was stopped: remembered (whether or not its job is known here yet), and its scheduled
 * re-check disarmed. Idempotent: the first stop's time stays.
 */
export async function stopWatch(db: Db, jobId: string, stoppedAt: Date): Promise<void> {
  await db`insert into stopped_watches (job_id, stopped_at) values (${jobId}, ${stoppedAt}) on conflict (job_id) do nothing`;
  await db`update watched_jobs set next_recheck_at = null, updated_at = now() where job_id = ${jobId} and next_recheck_at is not null`;
}

/** The verdict of a completed run, unless a later run's verdict is already kept. */
export async function recordVerdict(db: Db, jobId: string, run: number, verdict: VerdictSummary, completedAt: Date): Promise<void> {
  await db`
    update watched_jobs set verdict = ${db.json(verdict)}, verdict_run = ${run}, completed_at = ${completedAt}, updated_at = now()
    where job_id = ${jobId} and (verdict_run is null or verdict_run < ${run})`;
}

/** Starts following a registry from a block, unless it is followed already. */
export async function followRegistry(db: Db, address: string, fromBlock: number): Promise<void> {
  await db`
    insert into watched_registries (address, first_block, next_block) values (${address.toLowerCase()}, ${fromBlock}, ${fromBlock})
    on conflict (address) do nothing`;
}

export async function listRegistries(db: Db): Promise<WatchedRegistry[]> {
  const rows = await db<{ address: string; firstBlock: string; nextBlock: string }[]>`select address, first_block, next_block from watched_registries order by address`;
  return rows.map((r) => ({ address: r.address, firstBlock: Number(r.firstBlock), nextBlock: Number(r.nextBlock) }));
}

/** The registry's checkpoint, locked for this pass; null when another replica is reading it now. */
export async function lockRegistry(db: Db, address: string): Promise<WatchedRegistry | null> {
  const [row] = await db<{ address: string; firstBlock: string; nextBlock: string }[]>`
    select address, first_block, next_block from watched_registries where address = ${address} for update skip locked`;
  return row ? { address: row.address, firstBlock: Number(row.firstBlock), nextBlock: Number(row.nextBlock) } : null;
}

export async function knownLogs(db: Db, address: string, fromBlock: number, toBlock: number): Promise<RegistryLog[]> {
  const rows = await db<(Omit<RegistryLog, "blockNumber" | "manifestURI"> & { blockNumber: string; manifestUri: string })[]>`
    select block_number, block_hash, log_index, tx_hash, content_hash, kind, manifest_uri from registry_logs
    where registry_address = ${address} and block_number between ${fromBlock} and ${toBlock}`;
  return rows.map(({ manifestUri, ...r }) => ({ ...r, blockNumber: Number(r.blockNumber), manifestURI: manifestUri }));
}

/**
 * Records a pass: the logs it added and removed, the new checkpoint, and forgets logs below
 * the re-read window (they are never judged again).
 */
export async function saveWindow(db: Db, address: string, added: readonly RegistryLog[], removed: readonly RegistryLog[], nextBlock: number, keepFrom: number): Promise<void> {
  if (added.length > 0) {
    const rows = added.map((l) => ({
      registry_address: address,
      block_number: l.blockNumber,
      block_hash: l.blockHash,
      log_index: l.logIndex,
      tx_hash: l.txHash,
      content_hash: l.contentHash,
      kind: l.kind,
      manifest_uri: l.manifestURI,
    }));
    await db`insert into registry_logs ${db(rows)} on conflict do nothing`;
  }
  for (const l of removed) {
    await db`delete from registry_logs where registry_address = ${address} and block_hash = ${l.blockHash} and log_index = ${l.logIndex}`;
  }
  await db`delete from registry_logs where registry_address = ${address} and block_number < ${keepFrom}`;
  await db`update watched_registries set next_block = ${nextBlock}, updated_at = now() where address = ${address}`;
}

/**
 * The jobs changes of these entries re-verify: of each (tenant, content hash, manifest URI),
 * the one completed last, and every watch on its own (a stopped one never), if its verdict was
 * read before the change's block (`changedAt`: a content hash's latest change; a verdict read
 * at or after it already saw it). Their run is taken at once (run + 1), so a second change
 * before the first re-verification is seen asks for a run of its own.
 */
export async function takeJobsToReverify(db: Db, address: string, changedAt: ReadonlyMap<string, number>): Promise<WatchedJob[]> {
  if (changedAt.size === 0) return [];
  const hashes = [...changedAt.keys()];
  const blocks = hashes.map((h) => String(changedAt.get(h)));
  return db<WatchedJob[]>`
    with latest as (
      select distinct on (w.tenant, w.content_hash, w.manifest_uri, case when w.watch then w.job_id end) w.job_id, w.verdict, c.block from watched_jobs w
      join unnest(${db.array(hashes)}::text[], ${db.array(blocks)}::bigint[]) as c(hash, block) on w.content_hash = c.hash
      where w.registry_address = ${address} and w.verdict is not null and ${NOT_STOPPED(db, "w")}
      order by w.tenant, w.content_hash, w.manifest_uri, case when w.watch then w.job_id end, w.completed_at desc, w.job_id
    )
    update watched_jobs w set run = w.run + 1, updated_at = now()
    from latest where w.job_id = latest.job_id and coalesce((latest.verdict->>'blockNumber')::bigint, -1) < latest.block
    returning w.*`;
}

/** Arms a job's next scheduled re-check (if it asked for them) a period after `endedAt`, when its run `run` ended. */
export async function armRecheck(db: Db, jobId: string, run: number, endedAt: Date): Promise<void> {
  await db`
    update watched_jobs set next_recheck_at = ${endedAt}::timestamptz + recheck_every_s * interval '1 second', updated_at = now()
    where job_id = ${jobId} and recheck_every_s is not null and run = ${run} and ${NOT_STOPPED(db, "watched_jobs")}`;
}

/**
 * Takes up to `limit` due re-checks (FOR UPDATE SKIP LOCKED: replicas take different ones, and
 * a row another transaction holds waits for the next pass): each job's run is taken (run + 1)
 * and its schedule cleared until that run ends (armRecheck).
 */
export async function takeDueRechecks(db: Db, now: Date, limit: number): Promise<WatchedJob[]> {
  return db<WatchedJob[]>`
    with due as (
      select job_id from watched_jobs w where next_recheck_at <= ${now} and ${NOT_STOPPED(db, "w")} order by next_recheck_at limit ${limit} for update skip locked
    )
    update watched_jobs w set run = w.run + 1, next_recheck_at = null, updated_at = now()
    from due where w.job_id = due.job_id
    returning w.*`;
}
