import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ServiceName } from "@veriflow/events";

const root = fileURLToPath(new URL("../../../", import.meta.url));

export interface ServiceProcess {
  name: ServiceName;
  /** Which of the service's replicas (0 when one runs). */
  replica: number;
  child: ChildProcess;
}

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

/** Prints a service's JSON log line as "name  level message key=value…", readable in a terminal. */
function formatLine(name: string, line: string): string {
  try {
    const { level, msg, time: _t, pid: _p, hostname: _h, service: _s, name: _n, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    return `${name.padEnd(11)} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${msg === undefined ? "" : typeof msg === "string" ? msg : JSON.stringify(msg)} ${fields}`.trimEnd();
  } catch {
    return `${name.padEnd(11)} ${line}`;
  }
}

/**
 * Starts one service from its build output, as a deployment would, with its log prefixed
 * (`hashing#1` for a second replica). `nodeArgs` go before the script (`--cpu-prof`, which
 * NODE_OPTIONS may not carry).
 */
export function spawnService(name: ServiceName, env: NodeJS.ProcessEnv, print: (line: string) => void, nodeArgs: string[] = [], replica = 0): ServiceProcess {
  const label = replica === 0 ? name : `${name}#${replica}`;
  const child = spawn(process.execPath, [...nodeArgs, `services/${name}/dist/main.js`], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [child.stdout, child.stderr]) {
    let buf = "";
    stream.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) print(formatLine(label, line));
      }
    });
  }
  return { name, replica, child };
}

export async function stopService(p: ServiceProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.child.once("exit", () => resolve());
    p.child.kill("SIGTERM");
    setTimeout(() => p.child.kill("SIGKILL"), 10_000).unref();
  });
}

/** `kill -9`: no graceful shutdown, in-flight work is abandoned (to test crash recovery). */
export async function killService(p: ServiceProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.child.once("exit", () => resolve());
    p.child.kill("SIGKILL");
  });
}
