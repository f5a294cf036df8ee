import { Readable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { UPLOADS_BUCKET, createRetryEvent, newJobId, type AnyEnvelope } from "@veriflow/events";
import { TransientError } from "@veriflow/errors";
import { failedEventFor } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { connectNats, type NatsClients } from "./nats.js";
import { hashedFor, requestFor } from "./pipeline-events.fixture.js";
import { publishEvents } from "./publish-events.js";
import { ensureStreams, openUploadsBucket } from "./topology.js";
import { testTopology } from "./topology.fixture.js";
import { createUploadSweep, uploadsSwept, type UploadSweepOptions } from "./upload-sweep.js";
import { putUpload, type ObjectStore } from "./uploads.js";

// The sweep over a real bucket and events stream: what it deletes, what it leaves, and how much it reads.
const topology = testTopology();
const log = createSilentLogger();
let server: NatsServerHandle;
let nats: NatsClients;
let bucket: ObjectStore;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "upload-sweep-test", log });
  await ensureStreams(nats.jsm, topology);
  bucket = await openUploadsBucket(nats.js, topology);
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});
// Each test judges the bucket from empty.
beforeEach(async () => {
  await nats.jsm.streams.purge(`OBJ_${UPLOADS_BUCKET}`);
});

/** A stored upload named after a new job, as the gateway stores them. */
async function upload(): Promise<string> {
  const jobId = newJobId();
  await putUpload(nats, jobId, Readable.from([Buffer.from(`bytes of ${jobId}`)]));
  return jobId;
}

const publish = (...events: AnyEnvelope[]) => publishEvents(nats.js, events);
const isStored = async (name: string) => (await bucket.info(name)) !== null;
/** A sweep as the hashing service runs it, with no minimum age unless told, and a clock `aheadMs` in the future. */
const sweepWith = (opts: Partial<UploadSweepOptions> & { aheadMs?: number } = {}) =>
  createUploadSweep({ jsm: nats.jsm, log, minAgeMs: 0, orphanGraceMs: 60_000, now: () => Date.now() + (opts.aheadMs ?? 0), ...opts });
const swept = async (reason: string) => (await uploadsSwept.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe("the uploads sweep", () => {
  it("deletes the upload of a job that was hashed or ended, and keeps the one of a job still waiting for hashing", async () => {
    const hashed = await upload();
    const request = requestFor(hashed);
    await publish(request, hashedFor(request));
    const failed = await upload();
    await publish(requestFor(failed), failedEventFor("hashing", requestFor(failed), new TransientError("E_UPLOAD_CORRUPT", "bad bytes"), 5));
    const waiting = await upload();
    await publish(requestFor(waiting));
    const before = await swept("moved_on");

    // Two replicas sweeping at once: deletes are idempotent, the second finds nothing left to do.
    const [a, b] = await Promise.all([sweepWith()(), sweepWith()()]);
    expect(await isStored(hashed)).toBe(false);
    expect(await isStored(failed)).toBe(false);
    expect(await isStored(waiting)).toBe(true);
    expect((a.deleted.moved_on ?? 0) + (b.deleted.moved_on ?? 0)).toBeGreaterThanOrEqual(2);
    expect(await swept("moved_on")).toBeGreaterThanOrEqual(before + 2);
  });

  it("keeps the upload of a failed job retried at hashing: its new request came after the failure", async () => {
    const jobId = await upload();
    const request = requestFor(jobId);
    const failed = failedEventFor("hashing", request, new TransientError("E_UPLOAD_UNAVAILABLE", "slow"), 5);
    await publish(request, failed);
    await publish(createRetryEvent(request, 2, failed.id));
    expect((await sweepWith()()).deleted).toEqual({});
    expect(await isStored(jobId)).toBe(true);
  });

  it("deletes an upload no request came for, once its grace is over and not before", async () => {
    const orphan = await upload();
    const sweep = (aheadMs: number) => sweepWith({ orphanGraceMs: 30_000, aheadMs })();
    expect((await sweep(0)).deleted).toEqual({});
    expect(await isStored(orphan)).toBe(true);
    // Half a minute later (the clock moved on), the gateway's publish has long succeeded or failed.
    expect((await sweep(31_000)).deleted).toEqual({ no_request: 1 });
    expect(await isStored(orphan)).toBe(false);
    // So is anything in the bucket not named after a job: nothing can ever ask for it.
    await putUpload(nats, "not-a-job", Readable.from([Buffer.from("x")]));
    expect((await sweep(31_000)).deleted).toEqual({ no_request: 1 });
  });

  it("looks at no upload younger than the minimum age, and removes the tombstones the object store's own delete leaves", async () => {
    const hashed = await upload();
    await publish(requestFor(hashed), hashedFor(requestFor(hashed)));
    const young = await sweepWith({ minAgeMs: 60_000 })();
    expect(young).toEqual({ examined: 0, deleted: {} });
    expect(await isStored(hashed)).toBe(true);

    const gone = await upload();
    await bucket.delete(gone);
    expect((await sweepWith({ aheadMs: 61_000, minAgeMs: 60_000 })()).deleted).toEqual({ moved_on: 1, tombstone: 1 });
    expect((await bucket.list()).map((o) => o.name)).toEqual([]);
  });

  it("reads at most maxEntriesPerPass entries a pass, and the next pass goes on from there", async () => {
    const waiting = await upload();
    await publish(requestFor(waiting));
    const orphans = [await upload(), await upload()];
    const sweep = sweepWith({ maxEntriesPerPass: 2, orphanGraceMs: 0 });
    expect(await sweep()).toEqual({ examined: 2, deleted: { no_request: 1 } });
    expect(await sweep()).toEqual({ examined: 1, deleted: { no_request: 1 } });
    for (const o of orphans) expect(await isStored(o)).toBe(false);
    // At the end it starts over: the waiting upload is judged again, and kept again.
    expect(await sweep()).toEqual({ examined: 1, deleted: {} });
    expect(await isStored(waiting)).toBe(true);
  });
});
