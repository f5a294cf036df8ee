import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, rm, stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { JOBS_PATH } from "@veriflow/events";
import type { BenchStack } from "./bench-stack.js";
import { getHistory, getJob, type Job } from "./gateway.js";
import { fmt, out } from "./output.js";
import { printCpu, takeCpuSnapshot } from "./processes.js";

/** Peak resident memory of one process, MiB: polled every 50 ms, and the kernel's lifetime high-water mark. */
export interface PeakRss {
  sampled: number;
  hwm: number;
}

export interface LargeFigures {
  sizeMiB: number;
  uploadS: number;
  uploadMBs: number;
  hashS: number;
  hashMBs: number;
  opensslS: number;
  opensslMBs: number;
  ratio: number;
  /** POST start → the job's terminal event (its occurredAt), and that against openssl on the same file (target ≤ 3×). */
  e2eS: number;
  e2eVsOpenssl: number;
  status: string;
  hashOk: boolean;
  peak: Record<string, PeakRss>;
}

/**
 * One file of `sizeMiB` MiB of random data streamed through the REST API to a verdict, watching
 * the memory of the two processes that see every byte (gateway, hashing), and the hashing
 * stage's speed against `openssl dgst -sha256` on the same file.
 */
export async function runLargeFile(stack: BenchStack, sizeMiB: number): Promise<LargeFigures | null> {
  out(`\n== large file: ${sizeMiB} MiB of random data, streamed through the REST API`);
  const file = join(stack.dataDir, "large.bin");
  execFileSync("sh", ["-c", `head -c ${sizeMiB * 1024 * 1024} /dev/urandom > '${file}'`]);
  const size = (await stat(file)).size;

  const watched: Record<string, number> = { gateway: stack.services.gateway[0]!.child.pid!, hashing: stack.services.hashing[0]!.child.pid! };
  const sampler = await startRssSampler(watched);
  const cpuBefore = await takeCpuSnapshot(stack);
  const t = performance.now();
  const postStartMs = Date.now();
  const accepted = await uploadFile(stack, file, size, stack.contents[0]!.manifestUri);
  const uploadS = (performance.now() - t) / 1000;
  if (accepted.status !== 202) {
    await sampler.stop();
    out(`  !! upload answered ${accepted.status}: ${JSON.stringify(accepted.body).slice(0, 300)}`);
    return null;
  }
  const jobId = (accepted.body as { jobId: string }).jobId;
  const job = await waitForVerdict(stack, jobId, 180_000);
  const cpuAfter = await takeCpuSnapshot(stack);
  const verdictS = (performance.now() - t) / 1000;
  await sleep(200);
  const peak = await sampler.stop();

  const history = await getHistory(stack.gatewayUrl, jobId);
  const hashed = history.find((e) => e.type === "content.hashed");
  const terminal = history.find((e) => e.type === "verification.completed" || e.type === "verification.failed");
  const e2eS = terminal ? (Date.parse(terminal.occurredAt) - postStartMs) / 1000 : NaN;
  const hashS = hashed && job.startedAt ? (Date.parse(hashed.occurredAt) - Date.parse(job.startedAt)) / 1000 : NaN;
  const sizeMB = size / 1e6; // MB/s figures are in decimal megabytes

  const to = performance.now();
  const dgst = execFileSync("openssl", ["dgst", "-sha256", "-r", file], { encoding: "utf8" });
  const opensslS = (performance.now() - to) / 1000;
  const hashOk = typeof job.contentHash === "string" && job.contentHash.slice(2) === dgst.split(" ")[0];

  const f: LargeFigures = {
    sizeMiB: size / 1024 / 1024,
    uploadS,
    uploadMBs: sizeMB / uploadS,
    hashS,
    hashMBs: sizeMB / hashS,
    opensslS,
    opensslMBs: sizeMB / opensslS,
    ratio: sizeMB / hashS / (sizeMB / opensslS),
    e2eS,
    e2eVsOpenssl: e2eS / opensslS,
    status: `${job.status}${job.result?.status ? `:${job.result.status}` : ""}${job.error ? ` (${(typeof job.error === "string" ? job.error : JSON.stringify(job.error)).slice(0, 120)})` : ""}`,
    hashOk,
    peak,
  };
  out(`  job                  ${jobId} → ${f.status}; contentHash ${hashOk ? "matches" : "DOES NOT match"} openssl`);
  out(`  upload (POST → 202)  ${fmt(uploadS, 2)} s   ${fmt(f.uploadMBs)} MB/s`);
  out(`  hashing stage        ${fmt(hashS, 2)} s   ${fmt(f.hashMBs)} MB/s   (startedAt → content.hashed.occurredAt: after the request; large uploads are mostly hashed while stored)`);
  out(`  POST → completed     ${fmt(e2eS, 2)} s   ${fmt(sizeMB / e2eS)} MB/s   (POST start → the terminal event's occurredAt)`);
  out(`  openssl dgst -sha256 ${fmt(opensslS, 2)} s   ${fmt(f.opensslMBs)} MB/s   (page cache warm)`);
  out(`  hashing / openssl    ${fmt(f.ratio * 100)} %   POST → completed / openssl ${fmt(f.e2eVsOpenssl, 2)}×`);
  // CPU seconds each process spent from POST start to the verdict seen (polled every 100 ms), as % of one core.
  printCpu(cpuBefore, cpuAfter, verdictS);
  for (const n of Object.keys(watched)) {
    out(`  ${n.padEnd(8)} RSS       before ${fmt(sampler.baseline[n]!)} MiB   peak sampled ${fmt(peak[n]!.sampled)} MiB   VmHWM (lifetime) ${fmt(peak[n]!.hwm)} MiB`);
  }
  await rm(file, { force: true });
  return f;
}

async function waitForVerdict(stack: BenchStack, jobId: string, timeoutMs: number): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(stack.gatewayUrl, jobId);
    if (job.status === "completed" || job.status === "failed" || Date.now() > deadline) return job;
    await sleep(100);
  }
}

/** Current (VmRSS) or peak (VmHWM) resident memory of a process in MiB, from /proc; NaN once it is gone. */
function readProcMemory(pid: number, key: "VmRSS" | "VmHWM"): Promise<number> {
  return readFile(`/proc/${pid}/status`, "utf8").then(
    (s) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN) / 1024,
    () => NaN,
  );
}

/** Polls the RSS of the `watched` processes every 50 ms until stopped; stop() also reads their VmHWM. */
async function startRssSampler(watched: Record<string, number>) {
  const baseline: Record<string, number> = {};
  const peak: Record<string, PeakRss> = {};
  for (const [n, pid] of Object.entries(watched)) {
    baseline[n] = await readProcMemory(pid, "VmRSS");
    peak[n] = { sampled: baseline[n], hwm: NaN };
  }
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      for (const [n, pid] of Object.entries(watched)) {
        const v = await readProcMemory(pid, "VmRSS");
        if (v > peak[n]!.sampled) peak[n]!.sampled = v;
      }
      await sleep(50);
    }
  })();
  return {
    baseline,
    async stop(): Promise<Record<string, PeakRss>> {
      sampling = false;
      await loop;
      for (const [n, pid] of Object.entries(watched)) peak[n]!.hwm = await readProcMemory(pid, "VmHWM");
      return peak;
    },
  };
}

/** Streams a multipart upload of `path` with node:http: fetch would want the whole body in memory. */
function uploadFile(stack: BenchStack, path: string, size: number, manifestURI: string): Promise<{ status: number; body: unknown }> {
  const boundary = `----veriflowbench${randomBytes(8).toString("hex")}`;
  const field = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = Buffer.from(
    field("registryAddress", stack.registry) +
      field("manifestURI", manifestURI) +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="large.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const url = new URL(`${stack.gatewayUrl}${JOBS_PATH}/verify`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: { "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": head.length + size + tail.length },
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (data += d));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: data });
          }
        });
      },
    );
    req.on("error", reject);
    req.write(head);
    const rs = createReadStream(path, { highWaterMark: 1024 * 1024 });
    rs.on("error", reject);
    rs.pipe(req, { end: false });
    rs.on("end", () => req.end(tail));
  });
}
