import { Readable } from "node:stream";
import { DEAD_LETTER_STREAM, POSITIONS_STREAM, STREAM_NAME, UPLOADS_BUCKET } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats, type NatsClients } from "./nats.js";
import { ensureStreams, openUploadsBucket } from "./topology.js";
import { TopologyMismatchError } from "./topology-check.js";
import { testTopology } from "./topology.fixture.js";
import { putUpload } from "./uploads.js";

// NATS_TOPOLOGY=check on a real nats-server: a service that does not own the topology
// (`veriflow setup` does) checks it, changes nothing, and names every difference.
const MiB = 1024 ** 2;
const made = testTopology();
const checking = testTopology({ mode: "check" });
let server: NatsServerHandle;
let nats: NatsClients;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "topology-check-test", log: createSilentLogger(), timeoutMs: 2000 });
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

const thrown = (p: Promise<unknown>) => p.then(() => expect.fail("expected a rejection"), (err: unknown) => err);

describe("NATS_TOPOLOGY=check", () => {
  it("names every missing stream, and creates none", async () => {
    const err = await thrown(ensureStreams(nats.jsm, checking));
    expect(err).toBeInstanceOf(TopologyMismatchError);
    expect((err as TopologyMismatchError).differences).toEqual([
      `stream ${STREAM_NAME} does not exist`,
      `stream ${DEAD_LETTER_STREAM} does not exist`,
      `stream ${POSITIONS_STREAM} does not exist`,
    ]);
    expect((err as Error).message).toContain("veriflow setup");
    expect(await nats.jsm.streams.names().next()).toEqual([]);
    expect(await thrown(openUploadsBucket(nats.js, checking))).toMatchObject({ differences: [`stream OBJ_${UPLOADS_BUCKET} does not exist`] });
  });

  it("passes on the topology made with the same configuration, and the bucket it opens works", async () => {
    await ensureStreams(nats.jsm, made);
    await openUploadsBucket(nats.js, made);
    await ensureStreams(nats.jsm, checking);
    const bucket = await openUploadsBucket(nats.js, checking);
    await putUpload(nats, "checked", Readable.from([Buffer.from("hello")]));
    expect((await bucket.info("checked"))?.size).toBe(5);
  });

  it("names each setting that differs and leaves the streams as they are", async () => {
    const other = testTopology({ mode: "check", streamMaxBytes: 32 * MiB, duplicateWindowMs: 180_000, uploadsMaxBytes: 16 * MiB });
    const err = (await thrown(ensureStreams(nats.jsm, other))) as TopologyMismatchError;
    expect(err.differences).toEqual([
      `stream ${STREAM_NAME}: max_bytes is ${made.streamMaxBytes}, configured ${32 * MiB}`,
      `stream ${STREAM_NAME}: duplicate_window is ${made.duplicateWindowMs * 1e6}, configured ${180_000 * 1e6}`,
    ]);
    expect((await thrown(openUploadsBucket(nats.js, other))) as TopologyMismatchError).toMatchObject({
      differences: [`stream OBJ_${UPLOADS_BUCKET}: max_bytes is ${made.uploadsMaxBytes}, configured ${16 * MiB}`],
    });
    expect((await nats.jsm.streams.info(STREAM_NAME)).config.max_bytes).toBe(made.streamMaxBytes);
  });
});
