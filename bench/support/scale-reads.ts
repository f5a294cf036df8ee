import { cpus, loadavg } from "node:os";
import type postgres from "postgres";
import { JOBS_PATH } from "@veriflow/events";
import { encodeJobCursor } from "../../services/status/src/job-cursor.js";
import { fmt, out, pct } from "./output.js";
import { findDeepPosition, SCALE_TENANT, type DeepPosition } from "./scale-data.js";

export interface Latency {
  p50: number;
  p99: number;
}

/** Each read's latency at one table size, through the status service's REST API. */
export interface ReadFigures {
  jobs: number;
  get: Latency;
  /** Each list page timed, by name. */
  list: Record<string, Latency>;
  /** The list page with the worst p99. */
  listWorst: Latency;
  stats: Latency;
  /** The deep page by `offset` (old clients; no target: it reads the rows it skips). */
  offsetDeep: Latency;
  /** A request the service answers before any query (400, a malformed id): what the box and HTTP cost alone. */
  floor: Latency;
}

export interface ReadTiming {
  statusUrl: string;
  /** Requests per figure, one at a time, after a warm-up of a tenth as many. */
  samples: number;
  headers?: Record<string, string>;
}

/**
 * Times, one request at a time: a job GET by a random id, the first page, a ?status=failed
 * page, a page after a cursor half-way down the completed jobs, the same depth by offset
 * (a tenth as many: each takes long), and the stats; all as tenant default.
 */
export async function timeReads(sql: postgres.Sql, jobs: number, t: ReadTiming, deep?: DeepPosition): Promise<ReadFigures> {
  const ids = await sampleIds(sql, t.samples);
  const at = deep ?? (await findDeepPosition(sql));
  const cursor = encodeURIComponent(encodeJobCursor(at));
  const time = (name: string, path: (i: number) => string, n = t.samples, status = 200) =>
    timeRequests(name, n, (i) => `${t.statusUrl}${JOBS_PATH}${path(i)}`, status, t.headers);

  out(`  at ${jobs.toLocaleString("en")} jobs; load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} (${cpus().length} cpus)`);
  const get = await time("job GET by id", (i) => `/${ids[i % ids.length]}`);
  const list: Record<string, Latency> = {
    "first page": await time("list first page", () => "?limit=20"),
    "?status=failed": await time("list first page ?status=failed", () => "?status=failed&limit=20"),
    "deep ?status=completed": await time("list deep page ?status=completed (cursor)", () => `?status=completed&limit=20&cursor=${cursor}`),
  };
  const offsetDeep = await time("  (old clients) same depth by offset", () => `?status=completed&limit=20&offset=${at.depth}`, Math.max(10, Math.ceil(t.samples / 10)));
  const stats = await time("stats", () => "/stats");
  const floor = await time("  (floor) a 400 answered before any query", () => "/not-a-job-id", t.samples, 400);
  out(`  load average after: ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const listWorst = Object.values(list).reduce((a, b) => (b.p99 > a.p99 ? b : a));
  return { jobs, get, list, listWorst, stats, offsetDeep, floor };
}

/** Random ids of the tenant's jobs, from random pages of the table. */
async function sampleIds(sql: postgres.Sql, n: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from verification_jobs tablesample system (5) where tenant = ${SCALE_TENANT} limit ${n}`;
  if (rows.length === 0) throw new Error(`no jobs of tenant ${SCALE_TENANT} to read`);
  return rows.map((r) => r.id);
}

/** Times `samples` GETs one after another (after a warm-up), each one answered `status` in full. */
async function timeRequests(name: string, samples: number, url: (i: number) => string, status: number, headers?: Record<string, string>): Promise<Latency> {
  const once = async (i: number) => {
    const start = performance.now();
    const res = await fetch(url(i), { headers });
    const body = await res.text();
    const ms = performance.now() - start;
    if (res.status !== status) throw new Error(`${name}: ${url(i)} answered ${res.status}: ${body.slice(0, 300)}`);
    return ms;
  };
  for (let i = 0; i < Math.ceil(samples / 10); i++) await once(i);
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) ms.push(await once(i));
  const latency = { p50: pct(ms, 50), p99: pct(ms, 99) };
  out(`    ${name.padEnd(44)} p50 ${fmt(latency.p50).padStart(7)} ms   p99 ${fmt(latency.p99).padStart(7)} ms`);
  return latency;
}
