/**
 * Where a large upload's time goes, piece by piece, each measured alone in this process
 * against a local nats-server: SHA-256, the gateway's multipart parsing (busboy), the write
 * into the uploads bucket (putUpload) and the hashing stage's read (hashUpload). For each:
 * wall time, MB/s, and the CPU seconds of this process and of nats-server (from /proc), so a
 * piece's cost is known apart from the others sharing the two cores. Prints figures; not a test.
 *
 *   npx tsx bench/large-path.ts [--mib 1024] [--only sha256,busboy,put,read,follow] [--rounds 2]
 *
 * `follow` is the two stages together, as deployed: this process writes the upload (putUpload)
 * while another (support/upload-reader.ts) is the hashing side, reading it ahead as it is stored
 * or (`follow off`) only once it is complete; rounds alternate the two. Wall time from the put's
 * start to the hash, and the CPU seconds of writer, reader and nats-server.
 *
 * `--profile-dir DIR` writes one V8 CPU profile per piece there (open it in Chrome's DevTools,
 * or sum its self time per function) to see where each piece spends its CPU.
 * Needs `npm run build` first (@veriflow/* resolve to their dist).
 */
import { fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { Session } from "node:inspector";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { connectNats, deleteUpload, hashUpload, openUploadsBucket, putUpload, readTopologyConfig, type NatsClients } from "@veriflow/nats";
import { EnvReader, createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { fmt, out } from "./support/output.js";
import type { ReaderAnswer } from "./support/upload-reader.js";

const { values: args } = parseArgs({
  options: {
    mib: { type: "string", default: "1024" },
    only: { type: "string", default: "sha256,busboy,put,read,follow" },
    rounds: { type: "string", default: "2" },
    "profile-dir": { type: "string" },
  },
});
/** busboy (the gateway's multipart parser, under multer) ships no typings: what this file uses of it. */
const busboy = createRequire(import.meta.url)("busboy") as (cfg: { headers: Record<string, string> }) => Writable & {
  on(event: "file", cb: (name: string, stream: Readable) => void): unknown;
  on(event: "close", cb: () => void): unknown;
  on(event: "error", cb: (err: unknown) => void): unknown;
};
const BYTES = Number(args.mib) * 1024 * 1024;
const ONLY = new Set(args.only.split(","));

/** The body as a network delivers it: 64 KiB pieces of 1 MiB of random bytes, repeated. */
const PATTERN = randomBytes(1024 * 1024);
function* pieces(bytes: number, piece = 64 * 1024): Generator<Buffer> {
  for (let at = 0; at < bytes; at += piece) {
    const from = at % PATTERN.length;
    yield PATTERN.subarray(from, from + Math.min(piece, bytes - at, PATTERN.length - from));
  }
}

async function cpuOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const st = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Runs `run` under the V8 profiler when --profile-dir is given; writes `<dir>/<name>.cpuprofile`. */
async function profiled(name: string, run: () => Promise<unknown>): Promise<void> {
  const dir = args["profile-dir"];
  if (dir === undefined) return void (await run());
  const session = new Session();
  session.connect();
  const post = (method: string) => new Promise<unknown>((resolve, reject) => session.post(method, (err, r) => (err ? reject(err) : resolve(r))));
  await post("Profiler.enable");
  await post("Profiler.start");
  try {
    await run();
  } finally {
    const { profile } = (await post("Profiler.stop")) as { profile: unknown };
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

async function measure(label: string, natsPid: number | undefined, run: () => Promise<unknown>) {
  const cpu0 = process.cpuUsage();
  const nats0 = await cpuOf(natsPid);
  const t0 = performance.now();
  await profiled(label.split(" ")[0]!, run);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const natsCpu = (await cpuOf(natsPid)) - nats0;
  const self = (cpu.user + cpu.system) / 1e6;
  out(
    `${label.padEnd(34)} ${fmt(wall, 2).padStart(6)} s ${fmt(BYTES / 1e6 / wall).padStart(7)} MB/s   cpu: this process ${fmt(self, 2)} s (${fmt(
      (cpu.system / 1e6 / Math.max(self, 1e-9)) * 100,
      0,
    )}% sys)${natsPid ? `, nats-server ${fmt(natsCpu, 2)} s` : ""}`,
  );
}

/** putUpload here, hashUpload in a reader process (following the upload or not), timed together. */
async function measureWithReader(nats: NatsClients, server: NatsServerHandle, name: string, follow: boolean) {
  const reader = fork(fileURLToPath(new URL("./support/upload-reader.ts", import.meta.url)), { env: { ...process.env, URL: server.url, FOLLOW: follow ? "1" : "0" }, execArgv: ["--import", "tsx"] });
  try {
    const answer = () => new Promise<unknown>((resolve) => reader.once("message", resolve));
    await answer(); // ready
    const cpu0 = { writer: process.cpuUsage(), nats: await cpuOf(server.pid), reader: await cpuOf(reader.pid) };
    const t0 = performance.now();
    const s = await putUpload(nats, name, Readable.from(pieces(BYTES)));
    const putS = (performance.now() - t0) / 1000;
    const writer = process.cpuUsage(cpu0.writer);
    reader.send({ name, size: s.size, nuid: s.nuid, chunks: s.chunks, digest: s.digest });
    const a = (await answer()) as ReaderAnswer;
    const totalS = (performance.now() - t0) / 1000;
    const cpu = { writer: (writer.user + writer.system) / 1e6, reader: (await cpuOf(reader.pid)) - cpu0.reader, nats: (await cpuOf(server.pid)) - cpu0.nats };
    out(
      `put + hash, ${follow ? "read ahead " : "follow off "}        ${fmt(totalS, 2).padStart(6)} s ${fmt(BYTES / 1e6 / totalS).padStart(7)} MB/s   put ${fmt(putS, 2)} s, hash after it ${fmt(a.afterRefS, 2)} s; cpu: writer ${fmt(cpu.writer, 2)} s, reader ${fmt(cpu.reader, 2)} s, nats-server ${fmt(cpu.nats, 2)} s; reader VmHWM ${fmt(a.hwmMiB)} MiB`,
    );
    await deleteUpload(nats.jsm, { name, nuid: s.nuid });
  } finally {
    reader.kill();
  }
}

/** A multipart body with one file part of `bytes`, in 64 KiB pieces. */
function* multipartBody(boundary: string, bytes: number): Generator<Buffer> {
  yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="large.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  yield* pieces(bytes);
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

async function main() {
  out(`large-file path, piece by piece — ${args.mib} MiB, node ${process.version}`);
  if (ONLY.has("sha256")) {
    await measure("sha256 (node crypto, 64 KiB updates)", undefined, () => {
      const h = createHash("sha256");
      for (const p of pieces(BYTES)) h.update(p);
      h.digest();
      return Promise.resolve();
    });
  }
  if (ONLY.has("busboy")) {
    const boundary = "----veriflowbench0123456789";
    await measure("busboy multipart parse (file part)", undefined, async () => {
      const bb = busboy({ headers: { "content-type": `multipart/form-data; boundary=${boundary}` } });
      const done = new Promise<void>((resolve, reject) => {
        bb.on("file", (_name, stream) => stream.resume());
        bb.on("close", resolve);
        bb.on("error", reject);
      });
      Readable.from(multipartBody(boundary, BYTES)).pipe(bb);
      await done;
    });
  }
  if (!ONLY.has("put") && !ONLY.has("read") && !ONLY.has("follow")) return;
  const server = await startNatsServer();
  const nats = await connectNats({ url: server.url, name: "bench-large-path", log: createSilentLogger() });
  try {
    const bucket = await openUploadsBucket(nats.js, readTopologyConfig(new EnvReader({})));
    let stored: Awaited<ReturnType<typeof putUpload>> | undefined;
    if (ONLY.has("put") || ONLY.has("read")) {
      await measure("putUpload (into the bucket)", server.pid, async () => {
        stored = await putUpload(nats, "bench-large", Readable.from(pieces(BYTES)));
      });
    }
    if (ONLY.has("read") && stored) {
      const ref = { name: stored.name, size: stored.size, nuid: stored.nuid, chunks: stored.chunks, digest: stored.digest };
      await measure("hashUpload (read back, hash)", server.pid, () => hashUpload(nats.js, nats.jsm, bucket, ref));
    }
    if (stored) await deleteUpload(nats.jsm, { name: "bench-large", nuid: stored.nuid });
    if (ONLY.has("follow")) {
      for (let round = 0; round < Number(args.rounds); round++) {
        for (const follow of [false, true]) await measureWithReader(nats, server, `follow-${round}-${follow}`, follow);
      }
    }
  } finally {
    await nats.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
