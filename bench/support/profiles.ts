import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fmt, out } from "./output.js";

/** The parts of V8's .cpuprofile (written by `node --cpu-prof`) a self-time summary needs. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where each service's CPU went, from the profiles its process wrote at exit (`--cpu-prof`):
 * self time by where the code lives (our packages, each dependency, Node's internals, GC, idle)
 * and the functions with the most self time. Open a file in Chrome DevTools or speedscope for
 * the flame graph.
 */
export async function printProfiles(dir: string, serviceOfPid: Map<number, string>): Promise<void> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".cpuprofile"));
  out(`\n== cpu profiles (${dir}; open one in Chrome DevTools or https://www.speedscope.app for the flame graph)`);
  for (const file of files.sort()) {
    const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1]);
    const service = serviceOfPid.get(pid) ?? `pid ${pid}`;
    const profile = JSON.parse(await readFile(join(dir, file), "utf8")) as CpuProfile;
    const { byPlace, byFunction, busyMs } = selfTimes(profile);
    const top = (m: Map<string, number>, n: number) =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, n)
        .map(([k, v]) => `${k} ${fmt((v / busyMs) * 100, 1)}%`);
    out(`  ${service} (${file}): ${fmt(busyMs / 1000, 1)} s on CPU`);
    out(`    by place:    ${top(byPlace, 10).join(", ")}`);
    for (const line of top(byFunction, 12)) out(`      ${line}`);
  }
}

/** Self time per sample's node (the time until the next sample), grouped; idle and program time left out of "busy". */
function selfTimes(p: CpuProfile) {
  const nodeById = new Map(p.nodes.map((n) => [n.id, n]));
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busyMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const frame = nodeById.get(p.samples[i]!)?.callFrame;
    if (!frame || frame.functionName === "(idle)" || frame.functionName === "(program)") continue;
    busyMs += ms;
    const place = placeOf(frame.url, frame.functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + ms);
    const name = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  }
  return { byPlace, byFunction, busyMs };
}

/** node_modules/<pkg> (scoped too), our own workspace package, node's internals, or V8's pseudo-frames. */
function placeOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  if (url.startsWith("node:")) return "node:internal";
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep && !dep[1]!.startsWith("@veriflow/")) return dep[1]!;
  const own = /\/(libs|services)\/([^/]+)\//.exec(url);
  return own ? `${own[1]}/${own[2]}` : shortUrl(url);
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, "").replace(/^.*node_modules\//, "").replace(/^.*\/(libs|services)\//, "$1/");
}
