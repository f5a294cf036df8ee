import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import type { BenchStack } from "./bench-stack.js";
import { fmt, out } from "./output.js";

/** CPU seconds per group of processes, from /proc (Linux). */
export type CpuSnapshot = Map<string, number>;

const USER_HZ = 100; // the unit of utime/stime in /proc/<pid>/stat

/** CPU seconds (utime+stime) of every process, grouped: the services, nats, postgres, hardhat, this bench. */
export async function takeCpuSnapshot(stack: BenchStack): Promise<CpuSnapshot> {
  const byPid = new Map<number, string>(Object.values(stack.services).map((s) => [s.child.pid!, s.name]));
  const groups: CpuSnapshot = new Map();
  for (const d of await readdir("/proc")) {
    const pid = Number(d);
    if (!Number.isInteger(pid)) continue;
    try {
      const st = await readFile(`/proc/${pid}/stat`, "utf8");
      // comm is in parentheses and may hold spaces: the fields are counted after the last ")".
      const comm = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")"));
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      const cpu = (Number(f[11]) + Number(f[12])) / USER_HZ;
      const group = byPid.get(pid) ?? (await groupOf(pid, comm, stack));
      if (group) groups.set(group, (groups.get(group) ?? 0) + cpu);
    } catch {
      /* the process is gone */
    }
  }
  return groups;
}

/**
 * This run's processes only: a shared box runs other stacks' nats-server, postgres and hardhat
 * beside it (their CPU, or their exit, would count here). Ours name the run's data dir
 * (nats-server, postgres) or its chain's port (hardhat) on their command line, as findOrphans tells them.
 */
async function groupOf(pid: number, comm: string, stack: BenchStack): Promise<string | undefined> {
  if (pid === process.pid) return "bench-client";
  if (comm !== "nats-server" && comm !== "postgres" && !comm.startsWith("node")) return undefined;
  const cmd = await cmdlineOf(pid);
  if (comm === "nats-server") return cmd.includes(stack.dataDir) ? "nats-server" : undefined;
  // A backend's command line names its client, not the data dir: its parent, the postmaster, names that.
  if (comm === "postgres") return cmd.includes(stack.dataDir) || (await cmdlineOf(await parentOf(pid))).includes(stack.dataDir) ? "postgres" : undefined;
  return cmd.includes("hardhat") && new RegExp(`--port ${new URL(stack.rpcUrl).port}( |$)`).test(cmd) ? "hardhat" : undefined;
}

const cmdlineOf = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replace(/\0/g, " ");
const parentOf = async (pid: number) => {
  const st = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]);
};

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
