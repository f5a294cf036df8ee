/**
 * The hashing side of bench/large-path.ts's "follow" piece, in its own process as in a
 * deployment: connects to the nats-server in URL, reads uploads ahead as they are stored unless
 * FOLLOW=0 (upload-follower.ts), and for each upload ref sent over IPC answers with how long
 * hashUpload took after it, its CPU seconds so far and its peak RSS.
 */
import { readFileSync } from "node:fs";
import { connectNats, hashUpload, openUploadsBucket, readTopologyConfig, startUploadFollower, type UploadRef } from "@veriflow/nats";
import { EnvReader, createSilentLogger } from "@veriflow/platform";

export interface ReaderAnswer {
  sha256Hex: string;
  afterRefS: number;
  cpuS: number;
  hwmMiB: number;
}

const log = createSilentLogger();
const nats = await connectNats({ url: process.env.URL!, name: "bench-upload-reader", log });
const bucket = await openUploadsBucket(nats.js, readTopologyConfig(new EnvReader({})));
const follower = process.env.FOLLOW === "0" ? null : startUploadFollower({ nc: nats.nc, jsm: nats.jsm, log, maxFollowing: 4, queue: "hashing" });
await nats.nc.flush();
process.on("message", (ref: UploadRef) => {
  const t0 = performance.now();
  void hashUpload(nats.js, nats.jsm, bucket, ref, { follower }).then(({ sha256Hex }) => {
    const cpu = process.cpuUsage();
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? NaN) / 1024;
    process.send!({ sha256Hex, afterRefS: (performance.now() - t0) / 1000, cpuS: (cpu.user + cpu.system) / 1e6, hwmMiB: hwm } satisfies ReaderAnswer);
  });
});
process.send!("ready");
