import type postgres from "postgres";

/** The tenant the measurements read as: open development access is tenant `default` (no API key). */
export const SCALE_TENANT = "default";

/** Rows per INSERT: each a short statement, so the load reports progress and never holds one huge transaction. */
const CHUNK = 100_000;

/** How far back the loaded jobs go: inside the default retention (7 days), so nothing is pruned mid-run. */
const SPAN_MS = 5 * 86_400_000;

/**
 * Loads `jobs` projected jobs into the status service's table, in SQL (generate_series), in a
 * mix like production's: half of them tenant `default`'s, the rest spread over 40 others;
 * newest first queued (0.2%) then processing (0.3%), the rest completed (94%) or failed;
 * 70% verify, 30% proof; a content verified about four times on average; created over the
 * last five days, at whole milliseconds as the projection writes them (a JS Date's precision).
 * Ids are uuids made from `seed` and the row number, so two loads never collide. Returns the seconds it took.
 */
export async function loadScaleJobs(sql: postgres.Sql, jobs: number, seed: string, print: (line: string) => void): Promise<number> {
  const t0 = performance.now();
  const now = Date.now();
  for (let from = 1; from <= jobs; from += CHUNK) {
    const to = Math.min(jobs, from + CHUNK - 1);
    await insertChunk(sql, { from, to, jobs, seed, now });
    print(`  loaded ${to.toLocaleString("en")} / ${jobs.toLocaleString("en")} jobs (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  // What autovacuum does to a freshly loaded table within minutes (statistics, the visibility
  // map), done now rather than in the middle of the timing, on a box of two cores.
  await sql`vacuum (analyze) verification_jobs`;
  return (performance.now() - t0) / 1000;
}

interface Chunk {
  from: number;
  to: number;
  jobs: number;
  seed: string;
  now: number;
}

async function insertChunk(sql: postgres.Sql, c: Chunk): Promise<void> {
  const contents = Math.max(1, Math.floor(c.jobs / 4));
  await sql`
    insert into verification_jobs (
      id, tenant, run, type, status, progress, content_hash, manifest_uri, registry_address, rpc_url,
      file_name, file_size, result, error, retry_count, created_at, started_at, completed_at, updated_at, last_event_at)
    select id, tenant, 1, type, status,
      case status when 'queued' then 0 when 'processing' then 50 when 'completed' then 100 else 10 end,
      case when status = 'queued' then null else hash end,
      'ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/' || content || '.json',
      '0x5fbdb2315678afecb367f032d93f642f64180aa3', null, 'file-' || content || '.jpg', 1024 + content % 262144,
      case when status = 'completed' then jsonb_build_object(
        'status', case when i % 10 = 0 then 'FAIL' else 'OK' end,
        'reasons', case when i % 10 = 0 then '["not_registered"]'::jsonb else '[]'::jsonb end,
        'fileHash', hash, 'recovered', '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
        'onchain', jsonb_build_object('creator', '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 'timestamp', 1735689600, 'manifestURI', 'ipfs://bafy…', 'revoked', false),
        'checks', jsonb_build_object('manifestHashOk', true, 'creatorOk', i % 10 <> 0, 'manifestOk', true, 'didOk', true)) end,
      case when status = 'failed' then jsonb_build_object('stage', 'manifest', 'code', 'E_MANIFEST_UNAVAILABLE', 'message', 'manifest host did not answer', 'attempts', 3) end,
      case when status = 'failed' then 2 else 0 end,
      created_at,
      case when status = 'queued' then null else created_at + interval '40 milliseconds' end,
      case when status in ('completed', 'failed') then created_at + interval '900 milliseconds' end,
      created_at + interval '900 milliseconds',
      created_at + interval '900 milliseconds'
    from (
      select i,
        md5(p.seed || ':' || i)::uuid::text as id,
        case when i % 2 = 0 then p.tenant else 'tenant-' || lpad((i % 40)::text, 2, '0') end as tenant,
        case when i % 10 < 7 then 'verify' else 'proof' end as type,
        case
          when i > p.jobs - p.jobs / 500 then 'queued'
          when i > p.jobs - p.jobs / 200 then 'processing'
          when abs(hashtext(p.seed || i)::bigint) % 100 < 6 then 'failed'
          else 'completed' end as status,
        (i::bigint * 7919) % p.contents as content,
        '0x' || encode(sha256(convert_to(p.seed || ':content:' || ((i::bigint * 7919) % p.contents), 'UTF8')), 'hex') as hash,
        -- Row i is (jobs - i) steps of span / jobs before now: the last rows are the newest.
        timestamptz 'epoch' + (p.now - ((p.jobs - i) * p.span / p.jobs))::bigint * interval '1 millisecond' as created_at
      from (select ${c.seed}::text as seed, ${SCALE_TENANT}::text as tenant, ${c.jobs}::bigint as jobs, ${contents}::bigint as contents,
              ${c.now}::bigint as now, ${SPAN_MS}::bigint as span) as p,
        generate_series(${c.from}::integer, ${c.to}::integer) as i
    ) as g`;
}

/** A job half-way down the tenant's completed jobs, newest first: where a deep page starts. */
export interface DeepPosition {
  createdAt: Date;
  id: string;
  contentHash: string;
  /** Its offset in that list. */
  depth: number;
}

export async function findDeepPosition(sql: postgres.Sql): Promise<DeepPosition> {
  const [{ completed }] = await sql<[{ completed: number }]>`
    select count(*)::integer as completed from verification_jobs where tenant = ${SCALE_TENANT} and status = 'completed'`;
  const depth = Math.floor(completed / 2);
  const [row] = await sql<{ createdAt: Date; id: string; contentHash: string }[]>`
    select created_at as "createdAt", id, content_hash as "contentHash" from verification_jobs
    where tenant = ${SCALE_TENANT} and status = 'completed'
    order by created_at desc, id desc offset ${depth} limit 1`;
  if (!row) throw new Error(`no completed jobs of tenant ${SCALE_TENANT} to page through`);
  return { ...row, depth };
}
