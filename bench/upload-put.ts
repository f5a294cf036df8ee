/**
 * How fast an upload is written into the uploads bucket of a local nats-server: putUpload
 * (its own chunk writer, a few publishes in flight) beside nats.js's ObjectStore.put() (what
 * putUpload called before: one chunk publish at a time, awaiting each ack), in the same run,
 * on the same server, rounds alternating. Prints MB/s (10^6 bytes); it is not a test.
 *
 *   npx tsx bench/upload-put.ts [--sizes-mib 64,256] [--rounds 3] [--rtt-ms 0]
 *
 * `--rtt-ms` puts a loopback proxy between client and server that holds the server's bytes
 * that long: the round trip a gateway on another host than NATS waits for each ack.
 *
 * Needs `npm run build` first (@veriflow/* resolve to their dist).
 */
import { randomBytes } from "node:crypto";
import { createServer, connect as connectTcp, type Server } from "node:net";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { UPLOAD_CHUNK_BYTES, connectNats, deleteUpload, openUploadsBucket, putUpload, readTopologyConfig, type NatsClients, type ObjectStore } from "@veriflow/nats";
import { EnvReader, createSilentLogger } from "@veriflow/platform";
import { startNatsServer } from "@veriflow/testing";
import { fmt, out, pct } from "./support/output.js";

const { values: args } = parseArgs({ options: { "sizes-mib": { type: "string", default: "64,256" }, rounds: { type: "string", default: "3" }, "rtt-ms": { type: "string", default: "0" } } });
const SIZES_MIB = args["sizes-mib"].split(",").map(Number);
const ROUNDS = Number(args.rounds);
const RTT_MS = Number(args["rtt-ms"]);

/** A body as a network delivers it: 64 KiB pieces (of 1 MiB of random bytes, repeated). */
function* pieces(bytes: number): Generator<Buffer> {
  const pattern = randomBytes(1024 * 1024);
  const piece = 64 * 1024;
  for (let at = 0; at < bytes; at += piece) {
    const from = at % pattern.length;
    yield pattern.subarray(from, from + Math.min(piece, bytes - at));
  }
}

/** The old putUpload: the pieces through a pull-one-at-a-time web stream into ObjectStore.put(). */
function putWithObjectStore(bucket: ObjectStore, name: string, bytes: number) {
  const source = pieces(bytes);
  const web = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = source.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
  return bucket.put({ name, options: { max_chunk_size: UPLOAD_CHUNK_BYTES } }, web);
}

const writers: Record<string, (nats: NatsClients, bucket: ObjectStore, name: string, bytes: number) => Promise<unknown>> = {
  "ObjectStore.put (before)": (_nats, bucket, name, bytes) => putWithObjectStore(bucket, name, bytes),
  "putUpload (after)": (nats, _bucket, name, bytes) => putUpload(nats, name, Readable.from(pieces(bytes))),
};

/** A loopback proxy to `port` that passes the server's bytes on `delayMs` late (in order). */
async function startDelayingProxy(port: number, delayMs: number): Promise<{ port: number; server: Server }> {
  const server = createServer((client) => {
    const upstream = connectTcp(port, "127.0.0.1");
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d: Buffer) => setTimeout(() => client.write(d), delayMs));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, server };
}

async function main() {
  const server = await startNatsServer();
  const proxy = RTT_MS > 0 ? await startDelayingProxy(server.port, RTT_MS) : null;
  const nats = await connectNats({ url: proxy ? `nats://127.0.0.1:${proxy.port}` : server.url, name: "bench-upload-put", log: createSilentLogger() });
  try {
    const bucket = await openUploadsBucket(nats.js, readTopologyConfig(new EnvReader({})));
    const path = proxy ? `through a proxy adding ${RTT_MS} ms per round trip` : "direct";
    out(`upload put — nats-server on loopback, ${path}, ${UPLOAD_CHUNK_BYTES / 1024} KiB chunks, ${ROUNDS} rounds each, alternating; median (min–max) MB/s`);
    for (const mib of SIZES_MIB) {
      const bytes = mib * 1024 * 1024;
      const rates: Record<string, number[]> = Object.fromEntries(Object.keys(writers).map((k) => [k, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [label, write] of Object.entries(writers)) {
          const name = `bench-${mib}-${round}-${label.length}`;
          const started = process.hrtime.bigint();
          await write(nats, bucket, name, bytes);
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          rates[label]!.push(bytes / 1e6 / seconds);
          await deleteUpload(nats.jsm, { name, nuid: null });
        }
      }
      for (const [label, r] of Object.entries(rates)) {
        out(`${String(mib).padStart(4)} MiB  ${label.padEnd(26)} ${fmt(pct(r, 50)).padStart(7)} MB/s  (${fmt(Math.min(...r))}–${fmt(Math.max(...r))})`);
      }
    }
  } finally {
    await nats.close();
    proxy?.server.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
