import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import type { BenchStack } from "./bench-stack.js";
import { fmt, out } from "./output.js";

/** CPU seconds per group of processes, from /proc (Linux). */
export type CpuSnapshot = Map<string, number>;

const USER_HZ = 100; // the unit of utime/stime in /proc/<pid>/stat

/**
 * CPU seconds (utime+stime) of this run's processes, grouped: the services (by pid), and the
 * process trees of its nats-server, PostgreSQL (the postmaster and its backends) and hardhat,
 * found by their command lines (this run's data dir, its chain's port), so servers of other
 * runs on the machine (tests, `npm start`) are not counted; and this bench's own process.
 */
export async function takeCpuSnapshot(stack: BenchStack): Promise<CpuSnapshot> {
  const byPid = new Map<number, string>(Object.values(stack.services).flat().map((s) => [s.child.pid!, s.name]));
  const chainPort = new URL(stack.rpcUrl).port;
  const procs = new Map<number, { ppid: number; cpu: number; comm: string }>();
  for (const d of await readdir("/proc")) {
    const pid = Number(d);
    if (!Number.isInteger(pid)) continue;
    try {
      const { comm, cpu, ppid } = await readProcStat(pid);
      procs.set(pid, { ppid, cpu, comm });
    } catch {
      /* the process is gone */
    }
  }
  // The roots of this run's servers: their process trees are counted under their name.
  for (const [pid, p] of procs) {
    if (byPid.has(pid)) continue;
    if (pid === process.pid) byPid.set(pid, "bench-client");
    else if (p.comm === "nats-server" || p.comm === "postgres" || p.comm.startsWith("node")) {
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").then((c) => c.replace(/\0/g, " "), () => "");
      if (p.comm === "nats-server" && cmd.includes(stack.dataDir)) byPid.set(pid, "nats-server");
      else if (p.comm === "postgres" && cmd.includes(stack.dataDir)) byPid.set(pid, "postgres");
      else if (cmd.includes("hardhat") && new RegExp(`--port ${chainPort}( |$)`).test(cmd)) byPid.set(pid, "hardhat");
    }
  }
  const groupOf = (pid: number): string | undefined => {
    for (let at = pid, hops = 0; at > 1 && hops < 8; at = procs.get(at)?.ppid ?? 0, hops++) {
      const g = byPid.get(at);
      if (g) return g;
    }
    return undefined;
  };
  const groups: CpuSnapshot = new Map();
  for (const [pid, p] of procs) {
    const group = groupOf(pid);
    if (group) groups.set(group, (groups.get(group) ?? 0) + p.cpu);
  }
  return groups;
}

/** A process's command name, parent and CPU seconds so far (utime+stime), from /proc/<pid>/stat. */
export async function readProcStat(pid: number): Promise<{ comm: string; ppid: number; cpu: number }> {
  const st = await readFile(`/proc/${pid}/stat`, "utf8");
  // comm is in parentheses and may hold spaces: the fields are counted after the last ")".
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return { comm: st.slice(st.indexOf("(") + 1, st.lastIndexOf(")")), ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / USER_HZ };
}

export function printCpu(before: CpuSnapshot, after: CpuSnapshot, wallS: number): void {
  const parts = [...after.entries()]
    .map(([g, v]) => [g, (v - (before.get(g) ?? 0)) / wallS] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([g, v]) => `${g} ${fmt(v * 100, 0)}%`);
  out(`  cpu (% of one core)  ${parts.join(", ")}`);
}

/**
 * What this run left running after its stop: its services (by pid), and anything whose command
 * line names its data dir (nats-server, postgres) or its chain's port (hardhat). Scoped to this
 * run, so an `npm start` stack beside it is not reported.
 */
export async function findOrphans(stack: BenchStack): Promise<{ pattern: string; found: string }> {
  const chainPort = new URL(stack.rpcUrl).port;
  const pattern = `${stack.dataDir}|hardhat.* --port ${chainPort}( |$)`;
  const matched = await new Promise<string>((resolve) => {
    const p = spawn("pgrep", ["-af", pattern]);
    let s = "";
    p.stdout.on("data", (d) => (s += d));
    p.on("close", () => resolve(s.trim()));
  });
  const alive = Object.values(stack.services)
    .flat()
    .filter((s) => isAlive(s.child.pid!))
    .map((s) => `${s.child.pid} ${s.name}`);
  return { pattern, found: [...alive, ...(matched ? [matched] : [])].join("\n") };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch {
    return false;
  }
}
