import { readFile } from "node:fs/promises";
import postgres from "postgres";
import type { BenchStack } from "./bench-stack.js";
import { fmt, out } from "./output.js";
import { takeCpuSnapshot, type CpuSnapshot } from "./processes.js";

/**
 * Where a run's cost goes, per verification: the counters of every process and server that
 * does the work, read before and after a run. CPU from /proc; NATS messages and bytes from
 * nats-server's /varz (every message in and out: publishes, deliveries, acks, API requests
 * and their replies); PostgreSQL statements from pg_stat_statements; JSON-RPC requests from
 * chain-check's own counter; the host's CPU steal from /proc/stat.
 */
export interface CostSnapshot {
  cpu: CpuSnapshot;
  nats: NatsCounters | null;
  pg: PgCounters | null;
  rpc: Map<string, number> | null;
  host: HostCpu;
}

interface NatsCounters {
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
  /** Messages each client connection sent plus received (/connz), by connection name (veriflow-<service>). */
  byConnection: Map<string, number>;
}

interface PgCounters {
  calls: number;
  /** Calls per normalised statement (pg_stat_statements' query text). */
  byQuery: Map<string, number>;
}

/** Jiffies of the whole host: all, idle (+iowait), and steal (time a hypervisor gave to another guest). */
interface HostCpu {
  total: number;
  idle: number;
  steal: number;
}

/** The processes whose CPU counts as the system's cost: not the chain node, the manifest server (in this process) or the load. */
const SYSTEM_GROUPS = (stack: BenchStack) => [...Object.keys(stack.services), "nats-server", "postgres"];

export async function takeCost(stack: BenchStack): Promise<CostSnapshot> {
  const [cpu, nats, pg, rpc, host] = await Promise.all([
    takeCpuSnapshot(stack),
    readNats(stack.natsMonitorUrl),
    readPg(stack.databaseUrl),
    readRpcRequests(stack.opsUrls["chain-check"]),
    readHostCpu(),
  ]);
  return { cpu, nats, pg, rpc, host };
}

/** What one verification cost between two snapshots, over `jobs` verifications. */
export interface CostFigures {
  jobs: number;
  /** CPU ms per verification by process group (the chain node and the bench client included, for reference). */
  cpuMsByGroup: Map<string, number>;
  /** Services + nats-server + PostgreSQL. */
  systemCpuMs: number;
  natsMsgs: number;
  natsKiB: number;
  /** Client messages per verification by connection (what each service publishes, requests and receives). */
  natsByConnection: [string, number][];
  pgStatements: number;
  pgTop: [string, number][];
  ethCalls: number;
  rpcRequests: number;
  stealPct: number;
  hostBusyPct: number;
}

export function costBetween(stack: BenchStack, a: CostSnapshot, b: CostSnapshot, jobs: number): CostFigures {
  const per = (n: number) => (jobs > 0 ? n / jobs : NaN);
  const cpuMsByGroup = new Map<string, number>();
  for (const [g, v] of b.cpu) cpuMsByGroup.set(g, per((v - (a.cpu.get(g) ?? 0)) * 1000));
  const systemCpuMs = SYSTEM_GROUPS(stack).reduce((sum, g) => sum + (cpuMsByGroup.get(g) ?? 0), 0);
  const nats = a.nats && b.nats ? b.nats : null;
  const natsMsgs = nats ? per(nats.inMsgs - a.nats!.inMsgs + nats.outMsgs - a.nats!.outMsgs) : NaN;
  const natsKiB = nats ? per((nats.inBytes - a.nats!.inBytes + nats.outBytes - a.nats!.outBytes) / 1024) : NaN;
  const natsByConnection: [string, number][] = [];
  if (a.nats && b.nats) {
    for (const [name, n] of b.nats.byConnection) natsByConnection.push([name, per(n - (a.nats.byConnection.get(name) ?? 0))]);
    natsByConnection.sort((x, y) => y[1] - x[1]);
  }
  const pgTop: [string, number][] = [];
  if (a.pg && b.pg) {
    for (const [q, n] of b.pg.byQuery) pgTop.push([q, per(n - (a.pg.byQuery.get(q) ?? 0))]);
    pgTop.sort((x, y) => y[1] - x[1]);
  }
  const rpcDelta = (method?: string) => {
    if (!a.rpc || !b.rpc) return NaN;
    let n = 0;
    for (const [m, v] of b.rpc) if (method === undefined || m === method) n += v - (a.rpc.get(m) ?? 0);
    return per(n);
  };
  const total = b.host.total - a.host.total;
  return {
    jobs,
    cpuMsByGroup,
    systemCpuMs,
    natsMsgs,
    natsKiB,
    natsByConnection,
    pgStatements: a.pg && b.pg ? per(b.pg.calls - a.pg.calls) : NaN,
    pgTop: pgTop.filter(([, n]) => n > 0).slice(0, 6),
    ethCalls: rpcDelta("eth_call"),
    rpcRequests: rpcDelta(),
    stealPct: total > 0 ? ((b.host.steal - a.host.steal) / total) * 100 : NaN,
    hostBusyPct: total > 0 ? (1 - (b.host.idle - a.host.idle) / total) * 100 : NaN,
  };
}

export function printCost(c: CostFigures): void {
  const groups = [...c.cpuMsByGroup.entries()].sort((x, y) => y[1] - x[1]).map(([g, v]) => `${g} ${fmt(v, 2)}`);
  out(`  cpu ms/verification  ${fmt(c.systemCpuMs, 2)} (services + nats-server + postgres)   by process: ${groups.join(", ")}`);
  out(`  nats/verification    ${fmt(c.natsMsgs, 1)} messages (in + out, /varz)   ${fmt(c.natsKiB, 1)} KiB`);
  out(`      by connection (sent + received): ${c.natsByConnection.map(([n, v]) => `${n.replace(/^veriflow-/, "")} ${fmt(v, 1)}`).join(", ")}`);
  out(`  postgres/verif.      ${fmt(c.pgStatements, 2)} statements (pg_stat_statements)`);
  for (const [q, n] of c.pgTop) out(`      ${fmt(n, 2)}  ${q.replace(/\s+/g, " ").slice(0, 110)}`);
  out(`  chain/verification   ${fmt(c.ethCalls, 3)} eth_call   ${fmt(c.rpcRequests, 3)} JSON-RPC requests in all (chain-check's counter)`);
  out(`  host                 ${fmt(c.hostBusyPct, 0)}% busy, steal ${fmt(c.stealPct, 1)}% (/proc/stat)`);
}

async function readNats(monitorUrl: string | null): Promise<NatsCounters | null> {
  if (!monitorUrl) return null;
  try {
    type Counts = { in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number };
    const [v, c] = await Promise.all([
      fetch(`${monitorUrl}/varz`).then((r) => r.json() as Promise<Counts>),
      fetch(`${monitorUrl}/connz?limit=4096`).then((r) => r.json() as Promise<{ connections?: (Counts & { name?: string })[] }>),
    ]);
    const byConnection = new Map<string, number>();
    for (const conn of c.connections ?? []) {
      const name = conn.name || "(unnamed)";
      byConnection.set(name, (byConnection.get(name) ?? 0) + conn.in_msgs + conn.out_msgs);
    }
    return { inMsgs: v.in_msgs, outMsgs: v.out_msgs, inBytes: v.in_bytes, outBytes: v.out_bytes, byConnection };
  } catch {
    return null;
  }
}

let pgClient: postgres.Sql | undefined;
let pgReady: Promise<boolean> | undefined;

/** pg_stat_statements' totals, when the stack's PostgreSQL loaded it (the bench asks for it). */
async function readPg(databaseUrl: string): Promise<PgCounters | null> {
  pgClient ??= postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const sql = pgClient;
  pgReady ??= sql`create extension if not exists pg_stat_statements`.then(
    () => true,
    () => false,
  );
  if (!(await pgReady)) return null;
  // The bench's own reads of these counters are left out of them.
  const rows = await sql<{ query: string; calls: string }[]>`
    select query, calls::text from pg_stat_statements where query not ilike '%pg_stat_statements%'`;
  const byQuery = new Map<string, number>();
  let calls = 0;
  for (const r of rows) {
    const n = Number(r.calls);
    calls += n;
    byQuery.set(r.query, (byQuery.get(r.query) ?? 0) + n);
  }
  return { calls, byQuery };
}

export async function closeCostReaders(): Promise<void> {
  await pgClient?.end({ timeout: 1 });
  pgClient = undefined;
  pgReady = undefined;
}

/** `veriflow_chain_rpc_requests_total{method="…"}` from chain-check's /metrics. */
async function readRpcRequests(opsUrl: string | undefined): Promise<Map<string, number> | null> {
  if (!opsUrl) return null;
  try {
    const text = await (await fetch(`${opsUrl}/metrics`)).text();
    const byMethod = new Map<string, number>();
    for (const m of text.matchAll(/^veriflow_chain_rpc_requests_total\{[^}]*method="([^"]+)"[^}]*\} (\S+)$/gm)) {
      byMethod.set(m[1]!, (byMethod.get(m[1]!) ?? 0) + Number(m[2]));
    }
    return byMethod.size > 0 ? byMethod : null;
  } catch {
    return null;
  }
}

async function readHostCpu(): Promise<HostCpu> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((s, v) => s + v, 0);
  return { total, idle: f[3]! + f[4]!, steal: f[7]! };
}
