import { STREAM_NAME, createRequestEvent, decodeEventFrom, encodeEvent, stageDurable, subjectFor, UPLOADS_BUCKET, type Envelope, type JobPriority } from "@veriflow/events";
import { EventDecodeError } from "@veriflow/events";
import type { StageInstance } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningLoop } from "./consume-loop.js";
import { connectNats, type NatsClients } from "./nats.js";
import { hashedFor } from "./pipeline-events.fixture.js";
import { publishEvents } from "./publish-events.js";
import { startStage } from "./stage-service.js";
import { findLastEvent } from "./stream-lookup.js";
import { testTopology } from "./topology.fixture.js";

const topology = testTopology({ ackWaitMs: 10_000, maxAckPending: 1000 });
const HANDLE_MS = 25;
const CONCURRENCY = 8;

let server: NatsServerHandle;
let nats: NatsClients;
let loop: RunningLoop;
/** When each job was handled, in order. */
const handled: { jobId: string; priority: JobPriority; at: number }[] = [];

function request(jobId: string, priority: JobPriority): Envelope<"verification.requested"> {
  return createRequestEvent(jobId, {
    jobId,
    request: { jobType: "verify", manifestUri: "https://example.com/m.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null, priority },
    upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null },
  });
}

const instance: StageInstance<"hashing"> = {
  async handle(event) {
    await new Promise((r) => setTimeout(r, HANDLE_MS));
    handled.push({ jobId: event.data.jobId, priority: event.data.request.priority ?? "interactive", at: Date.now() });
    return [hashedFor(event)];
  },
  close: async () => {},
};

async function eventually<T>(probe: () => T | null | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  server = await startNatsServer();
  const log = createSilentLogger();
  nats = await connectNats({ url: server.url, name: "stage-priority-test", log });
  loop = await startStage({
    nats,
    topology,
    stage: "hashing",
    instance,
    config: { concurrency: CONCURRENCY, maxAttempts: 3, backoff: { baseMs: 50, maxMs: 200 } },
    log,
  });
});

afterAll(async () => {
  await loop?.stop();
  await nats?.close();
  await server?.stop();
});

describe("a stage serves interactive work before bulk work", () => {
  it("handles an interactive job at once while a bulk backlog waits, and the backlog still drains", async () => {
    // 400 bulk jobs: ~1.4 s of work at 7 at a time.
    const bulk = Array.from({ length: 400 }, (_, i) => request(`bulk-a-${i}`, "bulk"));
    await publishEvents(nats.js, bulk);
    await eventually(() => handled.filter((h) => h.priority === "bulk").length >= 20, "bulk work to start");
    const sent = Date.now();
    await publishEvents(nats.js, [request("interactive-a", "interactive")]);
    const done = await eventually(() => handled.find((h) => h.jobId === "interactive-a"), "the interactive job");
    const bulkDoneBefore = handled.filter((h) => h.priority === "bulk" && h.at <= done.at).length;
    // Served within a few handling times, not after the ~380 bulk jobs still queued (~1.3 s).
    expect(done.at - sent).toBeLessThan(HANDLE_MS * 8);
    expect(bulkDoneBefore).toBeLessThan(200);
    await eventually(() => handled.filter((h) => h.jobId.startsWith("bulk-a-")).length === 400, "the bulk backlog to drain");
  });

  it("keeps a share for bulk work while interactive work fills the stage", async () => {
    const interactive = Array.from({ length: 200 }, (_, i) => request(`inter-b-${i}`, "interactive"));
    const bulk = Array.from({ length: 20 }, (_, i) => request(`bulk-b-${i}`, "bulk"));
    await publishEvents(nats.js, [...interactive, ...bulk]);
    await eventually(() => handled.filter((h) => h.jobId.startsWith("inter-b-")).length === 200, "the interactive jobs");
    const lastInteractive = Math.max(...handled.filter((h) => h.jobId.startsWith("inter-b-")).map((h) => h.at));
    // At least one slot of eight stayed with bulk work: some of it finished before the interactive flood did.
    expect(handled.filter((h) => h.jobId.startsWith("bulk-b-") && h.at < lastInteractive).length).toBeGreaterThan(0);
  });

  it("publishes a bulk job's outputs on its bulk subjects, read back by job id, through the bulk consumer", async () => {
    const found = await findLastEvent(nats.jsm, "content.hashed", "bulk-a-0");
    expect(found?.data).toMatchObject({ jobId: "bulk-a-0", request: { priority: "bulk" } });
    const stored = await nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor("content.hashed", "bulk-a-0", "bulk") });
    expect(stored?.subject).toBe("veriflow.content.hashed.bulk.bulk-a-0");
    const bulkConsumer = await nats.jsm.consumers.info(STREAM_NAME, stageDurable("hashing", "bulk"));
    expect(bulkConsumer.delivered.stream_seq).toBeGreaterThan(0);
    expect(bulkConsumer.num_pending + bulkConsumer.num_ack_pending).toBe(0);
  });

  it("refuses a bulk event on an interactive subject (and the reverse): it belongs on its class's subject", () => {
    const bytes = encodeEvent(request("misplaced", "bulk"));
    expect(() => decodeEventFrom(subjectFor("verification.requested", "misplaced"), bytes)).toThrow(EventDecodeError);
    expect(decodeEventFrom(subjectFor("verification.requested", "misplaced", "bulk"), bytes).correlationId).toBe("misplaced");
    const interactive = encodeEvent(request("misplaced", "interactive"));
    expect(() => decodeEventFrom(subjectFor("verification.requested", "misplaced", "bulk"), interactive)).toThrow(EventDecodeError);
  });
});
