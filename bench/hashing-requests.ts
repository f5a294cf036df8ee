/**
 * The hashing stage alone on a local nats-server, over small uploads (1–256 KiB, one chunk
 * each): how many JetStream API requests it makes per job, by kind, and how fast it drains
 * a queue of requests. Prints figures; it is not a test.
 *
 *   npx tsx bench/hashing-requests.ts [--jobs 2000] [--concurrency 32] [--old-requests]
 *
 * `--old-requests` publishes requests as before upload.entrySeq/chunkSeq existed: the stage
 * then finds each upload's messages by subject.
 *
 * The uploads and their requests are stored first (as the gateway stores them), then the stage
 * starts and a second connection counts the `$JS.API.>` requests and `$JS.ACK.>` replies that
 * cross the server until every request is acknowledged and every upload deleted. The counts
 * include a poll of the stream's state every 250 ms (STREAM.INFO, CONSUMER.INFO).
 *
 * Needs `npm run build` first (@veriflow/* resolve to their dist).
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { STREAM_NAME, UPLOADS_BUCKET, createRequestEvent, newJobId, stageConsumer } from "@veriflow/events";
import { stageModule } from "@veriflow/hashing/stage";
import { connectNats, createBucketUploads, ensureStreams, openUploadsBucket, publishEvents, putUpload, startStage } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer } from "@veriflow/testing";
import { testTopology } from "../libs/nats/src/topology.fixture.js";
import { fmt, out } from "./support/output.js";
import { readProcStat } from "./support/processes.js";

const { values: args } = parseArgs({
  options: { jobs: { type: "string", default: "2000" }, concurrency: { type: "string", default: "32" }, "old-requests": { type: "boolean", default: false } },
});
const JOBS = Number(args.jobs);
const CONCURRENCY = Number(args.concurrency);

const topology = testTopology({ maxAckPending: 1000, streamMaxBytes: 256 * 1024 ** 2, uploadsMaxBytes: 1024 ** 3 });
const log = createSilentLogger();

/**
 * A request's kind: `$JS.API.STREAM.MSG.DELETE.OBJ_…` → `STREAM.MSG.DELETE`; a direct get that
 * names a subject after the stream (last_by_subj) → `DIRECT.GET (by subject)`; an ack → `ACK +ACK`
 * (its body: +ACK, -NAK, +WPI…).
 */
function kindOf(subject: string, body: Uint8Array): string {
  if (subject.startsWith("$JS.ACK.")) return `ACK ${new TextDecoder().decode(body.subarray(0, 4)).trim()}`;
  const parts = subject.split(".").slice(2);
  const at = parts.findIndex((p) => p === STREAM_NAME || p === `OBJ_${UPLOADS_BUCKET}`);
  if (at < 0) return parts.join(".");
  return parts.slice(0, at).join(".") + (parts[0] === "DIRECT" && at + 1 < parts.length ? " (by subject)" : "");
}

async function main() {
  const server = await startNatsServer();
  const nats = await connectNats({ url: server.url, name: "bench-hashing", log });
  const spy = await connectNats({ url: server.url, name: "bench-spy", log });
  try {
    await ensureStreams(nats.jsm, topology);
    const bucket = await openUploadsBucket(nats.js, topology);
    const pattern = randomBytes(256 * 1024);
    for (let i = 0; i < JOBS; i++) {
      const jobId = newJobId();
      const size = 1024 + Math.floor(Math.random() * (255 * 1024));
      const s = await putUpload(nats, jobId, Readable.from([pattern.subarray(0, size)]));
      const seqs = args["old-requests"] ? {} : { entrySeq: s.revision, chunkSeq: s.chunkSeq };
      const upload = { bucket: UPLOADS_BUCKET, name: jobId, size: s.size, fileName: null, contentType: null, nuid: s.nuid, chunks: s.chunks, digest: s.digest, ...seqs };
      const request = { jobType: "verify" as const, manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null };
      await publishEvents(nats.js, [createRequestEvent(jobId, { jobId, request, upload })]);
    }
    out(`stored ${JOBS} uploads (1–256 KiB) and their requests${args["old-requests"] ? " (without sequences)" : ""}; hashing concurrency ${CONCURRENCY}`);

    const counts = new Map<string, number>();
    for (const subject of ["$JS.API.>", "$JS.ACK.>"]) {
      spy.nc.subscribe(subject, {
        callback: (_err, m) => {
          const kind = kindOf(m.subject, m.data);
          counts.set(kind, (counts.get(kind) ?? 0) + 1);
        },
      });
    }
    await spy.nc.flush();

    const started = Date.now();
    const cpuAtStart = { self: process.cpuUsage(), server: (await readProcStat(server.pid!)).cpu };
    const instance = stageModule.create({}, { log, uploads: createBucketUploads(nats, bucket), now: () => new Date() });
    const loop = await startStage({ nats, topology, stage: "hashing", instance, config: { concurrency: CONCURRENCY, maxAttempts: 5, backoff: { baseMs: 100, maxMs: 1000 } }, log });
    let hashedAt = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      if (Date.now() - started > 600_000) throw new Error("the stage did not finish within 10 minutes");
      const consumer = await spy.jsm.consumers.info(STREAM_NAME, stageConsumer("hashing").durable);
      if (!hashedAt && consumer.num_pending === 0 && consumer.num_ack_pending === 0) hashedAt = Date.now();
      const uploads = await spy.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`);
      if (hashedAt && uploads.state.messages === 0) break;
    }
    const doneAt = Date.now();
    const elapsedS = (doneAt - started) / 1000;
    const self = process.cpuUsage(cpuAtStart.self);
    const serverCpu = (await readProcStat(server.pid!)).cpu - cpuAtStart.server;
    await loop.stop();
    await spy.nc.flush();

    out(`all requests acknowledged in ${fmt((hashedAt - started) / 1000, 2)} s (${fmt(JOBS / ((hashedAt - started) / 1000))} jobs/s, ±250 ms poll)`);
    out(`bucket empty after ${fmt((doneAt - started) / 1000, 2)} s`);
    out(`cpu (% of one core)  nats-server ${fmt((serverCpu / elapsedS) * 100, 0)}%, hashing (this process) ${fmt(((self.user + self.system) / 1e6 / elapsedS) * 100, 0)}%`);
    out(`requests per job (${JOBS} jobs):`);
    for (const [kind, n] of [...counts].sort((a, b) => b[1] - a[1])) out(`  ${kind.padEnd(28)} ${fmt(n / JOBS, 2)}`);
    const api = [...counts].filter(([k]) => !k.startsWith("ACK ")).reduce((s, [, n]) => s + n, 0);
    out(`  ${"$JS.API total".padEnd(28)} ${fmt(api / JOBS, 2)}`);
  } finally {
    await spy.close();
    await nats.close();
    await server.stop();
  }
}

await main();
