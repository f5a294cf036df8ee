import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import postgres from "postgres";
import { JOBS_PATH } from "@veriflow/events";
import { encodeJobCursor } from "../../services/status/src/job-cursor.js";
import { explainFilterPlans, printFilterPlans } from "./filter-plans.js";
import { fmt, out, pct } from "./output.js";
import { findDeepPosition, loadScaleJobs, SCALE_TENANT } from "./scale-data.js";

/** The target for each read at 1M jobs: p99 of one request at a time, on this machine. */
export const DATA_SCALE_TARGET_MS = 20;

export interface DataScaleOptions {
  /** The status service's database, migrated (the service has started on it). */
  databaseUrl: string;
  /** The status service's REST base URL (http://127.0.0.1:<STATUS_PORT>). */
  statusUrl: string;
  /** Jobs to load (1 000 000 for the target). */
  jobs: number;
  /** Requests timed per figure, one at a time, after a warm-up of a tenth as many (default 500). */
  samples?: number;
  /** Sent with every request (an API key, when the stack has keys). */
  headers?: Record<string, string>;
}

export interface Latency {
  p50: number;
  p99: number;
}

export interface DataScaleFigures {
  jobs: number;
  loadS: number;
  getP50: number;
  getP99: number;
  /** The slowest of the list pages timed (`list`). */
  listP50: number;
  listP99: number;
  statsP50: number;
  statsP99: number;
  /** Each list page timed, by name. */
  list: Record<string, Latency>;
  /** The deep page by `offset` instead (old clients; no target: it reads the rows it skips). */
  offsetDeep: Latency;
}

/**
 * Loads `jobs` jobs into the status service's PostgreSQL and times, through its REST API, a
 * job GET by id, list pages and the stats, each p50/p99 of `samples` requests one at a time,
 * as tenant default (half of the jobs). Prints each figure with its target; returns them.
 */
export async function runDataScale(opts: DataScaleOptions): Promise<DataScaleFigures> {
  const samples = opts.samples ?? 500;
  out(`\n== data scale: ${opts.jobs.toLocaleString("en")} jobs in PostgreSQL; job GET, list pages, stats (${samples} requests each, one at a time)`);
  const sql = postgres(opts.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const loadS = await loadScaleJobs(sql, opts.jobs, randomBytes(4).toString("hex"), (l) => out(l));
    out(`  load: ${fmt(loadS)} s (${fmt(opts.jobs / loadS, 0)} rows/s, with every index and the counters' triggers)`);
    await expectCountersExact(sql);
    const ids = await sampleIds(sql, samples);
    const deep = await findDeepPosition(sql);
    const cursor = encodeURIComponent(encodeJobCursor(deep));
    printFilterPlans(await explainFilterPlans(opts.databaseUrl, deep));
    const time = (name: string, path: (i: number) => string, n = samples) => timeRequests(name, n, (i) => `${opts.statusUrl}${JOBS_PATH}${path(i)}`, opts.headers);

    out(`  load average before timing: ${loadavg().map((l) => l.toFixed(1)).join(" ")} (${cpus().length} cpus)`);
    const get = await time("job GET by id", (i) => `/${ids[i % ids.length]}`);
    const list: Record<string, Latency> = {
      "list first page": await time("list first page", () => "?limit=20"),
      "list first page ?status=failed": await time("list first page ?status=failed", () => "?status=failed&limit=20"),
      "list deep page ?status=completed (cursor)": await time("list deep page ?status=completed (cursor)", () => `?status=completed&limit=20&cursor=${cursor}`),
    };
    // The old API's paging, for comparison (no target): it reads every row it skips.
    const offset = await time("  (old clients) same depth by offset", () => `?status=completed&limit=20&offset=${deep.depth}`, Math.max(10, Math.ceil(samples / 10)));
    const stats = await time("stats", () => "/stats");
    const worst = Object.values(list).reduce((a, b) => (b.p99 > a.p99 ? b : a));
    const figures: DataScaleFigures = {
      jobs: opts.jobs,
      loadS,
      getP50: get.p50,
      getP99: get.p99,
      listP50: worst.p50,
      listP99: worst.p99,
      statsP50: stats.p50,
      statsP99: stats.p99,
      list,
      offsetDeep: offset,
    };
    out(`  load average after timing: ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    printDataScale(figures);
    return figures;
  } finally {
    await sql.end();
  }
}

/** Rows for a summary table: figure, value, target, met (null: no target). */
export function dataScaleRows(f: DataScaleFigures): [string, string, string, boolean | null][] {
  const at = `at ${(f.jobs / 1e6).toLocaleString("en")}M jobs`;
  const target = `≤ ${DATA_SCALE_TARGET_MS} ms`;
  return [
    [`job GET p99 ${at}`, `${fmt(f.getP99)} ms (p50 ${fmt(f.getP50)})`, target, f.getP99 <= DATA_SCALE_TARGET_MS],
    [`list page p99 ${at}`, `${fmt(f.listP99)} ms (p50 ${fmt(f.listP50)})`, target, f.listP99 <= DATA_SCALE_TARGET_MS],
    [`stats p99 ${at}`, `${fmt(f.statsP99)} ms (p50 ${fmt(f.statsP50)})`, target, f.statsP99 <= DATA_SCALE_TARGET_MS],
    [`deep page by offset p99 ${at}`, `${fmt(f.offsetDeep.p99)} ms (p50 ${fmt(f.offsetDeep.p50)})`, "-", null],
  ];
}

function printDataScale(f: DataScaleFigures): void {
  for (const [name, value, target, ok] of dataScaleRows(f)) {
    out(`  ${name.padEnd(40)} ${value.padEnd(26)} ${target.padEnd(9)} ${ok === null ? "n/a" : ok ? "PASS" : "MISS"}`);
  }
}

/** The counters the triggers kept while loading against a count(*) (once: it reads every row). */
async function expectCountersExact(sql: postgres.Sql): Promise<void> {
  const [{ counted, countedRows }] = await sql<[{ counted: number; countedRows: number }]>`
    select (select coalesce(sum(jobs), 0)::float8 from verification_job_counts) as counted,
      (select count(*)::float8 from verification_jobs) as "countedRows"`;
  out(`  counters: ${counted.toLocaleString("en")} jobs counted, ${countedRows.toLocaleString("en")} rows: ${counted === countedRows ? "exact" : "WRONG"}`);
  if (counted !== countedRows) throw new Error(`the counters say ${counted} jobs, the table holds ${countedRows}`);
}

/** Random ids of the tenant's jobs, from random pages of the table. */
async function sampleIds(sql: postgres.Sql, n: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from verification_jobs tablesample system (1) where tenant = ${SCALE_TENANT} limit ${n}`;
  if (rows.length === 0) throw new Error("no jobs of tenant default to read");
  return rows.map((r) => r.id);
}

/** Times `samples` GETs one after another (after a warm-up), each one answered 200 in full. */
async function timeRequests(name: string, samples: number, url: (i: number) => string, headers?: Record<string, string>): Promise<Latency> {
  const once = async (i: number) => {
    const t = performance.now();
    const res = await fetch(url(i), { headers });
    const body = await res.text();
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`${name}: ${url(i)} answered ${res.status}: ${body.slice(0, 300)}`);
    return ms;
  };
  for (let i = 0; i < Math.ceil(samples / 10); i++) await once(i);
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) ms.push(await once(i));
  const latency = { p50: pct(ms, 50), p99: pct(ms, 99) };
  out(`  ${name.padEnd(44)} p50 ${fmt(latency.p50).padStart(7)} ms   p99 ${fmt(latency.p99).padStart(7)} ms`);
  return latency;
}
