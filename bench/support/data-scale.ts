import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { explainFilterPlans, printFilterPlans } from "./filter-plans.js";
import { fmt, out } from "./output.js";
import { findDeepPosition, loadScaleJobs } from "./scale-data.js";
import { timeReads, type Latency, type ReadFigures } from "./scale-reads.js";

/** The target for each read at 1M jobs: p99 of one request at a time, on this machine. */
export const DATA_SCALE_TARGET_MS = 20;

/** The small table the same reads are timed on first, as the control: flat means these figures again at `jobs`. */
const CONTROL_JOBS = 10_000;

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

export interface DataScaleFigures {
  jobs: number;
  /** Seconds the load of all `jobs` took (in SQL, with every index and the counters' triggers). */
  loadS: number;
  getP50: number;
  getP99: number;
  /** The list page with the worst p99. */
  listP50: number;
  listP99: number;
  statsP50: number;
  statsP99: number;
  /** Every read at `jobs`. */
  full: ReadFigures;
  /** The same reads at 10 000 jobs, timed first in the same run (null when `jobs` is not more). */
  control: ReadFigures | null;
}

/**
 * Loads jobs into the status service's PostgreSQL and times its reads through its REST API:
 * first at 10 000 jobs (the control), then at `jobs`, so the two figures were taken on the same
 * machine minutes apart and show whether the cost grew with the data. Between the two it checks
 * the counters against a count(*) and prints EXPLAIN ANALYZE of every list filter.
 */
export async function runDataScale(opts: DataScaleOptions): Promise<DataScaleFigures> {
  const timing = { statusUrl: opts.statusUrl, samples: opts.samples ?? 500, headers: opts.headers };
  out(`\n== data scale: job GET, list pages, stats at ${CONTROL_JOBS.toLocaleString("en")} and ${opts.jobs.toLocaleString("en")} jobs (${timing.samples} requests each, one at a time)`);
  const sql = postgres(opts.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const first = Math.min(CONTROL_JOBS, opts.jobs);
    let loadS = await loadScaleJobs(sql, first, randomBytes(4).toString("hex"), (l) => out(l));
    const control = opts.jobs > first ? await timeReads(sql, first, timing) : null;
    if (opts.jobs > first) loadS += await loadScaleJobs(sql, opts.jobs - first, randomBytes(4).toString("hex"), (l) => out(l));
    out(`  load: ${fmt(loadS)} s (${fmt(opts.jobs / loadS, 0)} rows/s, with every index and the counters' triggers)`);
    await expectCountersExact(sql);
    const deep = await findDeepPosition(sql);
    printFilterPlans(await explainFilterPlans(opts.databaseUrl, deep));
    const full = await timeReads(sql, opts.jobs, timing, deep);
    const figures: DataScaleFigures = {
      jobs: opts.jobs,
      loadS,
      getP50: full.get.p50,
      getP99: full.get.p99,
      listP50: full.listWorst.p50,
      listP99: full.listWorst.p99,
      statsP50: full.stats.p50,
      statsP99: full.stats.p99,
      full,
      control,
    };
    for (const [name, value, target, ok] of dataScaleRows(figures)) {
      out(`  ${name.padEnd(40)} ${value.padEnd(44)} ${target.padEnd(9)} ${ok === null ? "n/a" : ok ? "PASS" : "MISS"}`);
    }
    return figures;
  } finally {
    await sql.end();
  }
}

/** Rows for a summary table: figure, value (with the control's, when timed), target, met (null: no target). */
export function dataScaleRows(f: DataScaleFigures): [string, string, string, boolean | null][] {
  const at = `at ${(f.jobs / 1e6).toLocaleString("en")}M jobs`;
  const target = `≤ ${DATA_SCALE_TARGET_MS} ms`;
  const value = (pick: (r: ReadFigures) => Latency) => {
    const l = pick(f.full);
    const c = f.control ? pick(f.control) : null;
    return `${fmt(l.p99)} ms (p50 ${fmt(l.p50)})${c ? `; ${(f.control!.jobs / 1e3).toLocaleString("en")}k: ${fmt(c.p99)} (${fmt(c.p50)})` : ""}`;
  };
  return [
    [`job GET p99 ${at}`, value((r) => r.get), target, f.getP99 <= DATA_SCALE_TARGET_MS],
    [`list page p99 ${at}`, value((r) => r.listWorst), target, f.listP99 <= DATA_SCALE_TARGET_MS],
    [`stats p99 ${at}`, value((r) => r.stats), target, f.statsP99 <= DATA_SCALE_TARGET_MS],
    [`deep page by offset p99 ${at}`, value((r) => r.offsetDeep), "-", null],
    [`floor (no query) p99 ${at}`, value((r) => r.floor), "-", null],
  ];
}

/** The counters the triggers kept while loading against a count(*) (once: it reads every row). */
async function expectCountersExact(sql: postgres.Sql): Promise<void> {
  const [{ counted, countedRows }] = await sql<[{ counted: number; countedRows: number }]>`
    select (select coalesce(sum(jobs), 0)::float8 from verification_job_counts) as counted,
      (select count(*)::float8 from verification_jobs) as "countedRows"`;
  out(`  counters: ${counted.toLocaleString("en")} jobs counted, ${countedRows.toLocaleString("en")} rows: ${counted === countedRows ? "exact" : "WRONG"}`);
  if (counted !== countedRows) throw new Error(`the counters say ${counted} jobs, the table holds ${countedRows}`);
}
