import { JetStreamApiError } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequestEvent, STREAM_NAME } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { connectNats, type NatsClients } from "./nats.js";
import { isAlreadyExists, isNatsUnavailableError, isNotFound, isSubjectOverlap } from "./nats-errors.js";
import { publishEvents } from "./publish-events.js";
import { findLastEvent } from "./stream-lookup.js";
import { ensureStreams } from "./topology.js";
import { testTopology } from "./topology.fixture.js";

// Every case is what a real nats-server answers: the classification must not depend on
// message text, so it is checked against the errors nats.js actually throws.
const topology = testTopology();
let server: NatsServerHandle;
let nats: NatsClients;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "nats-errors-test", log: createSilentLogger(), timeoutMs: 2000 });
  await nats.jsm.streams.add({ name: "KNOWN", subjects: ["known.>"] });
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

const thrown = (p: Promise<unknown>) => p.then(() => expect.fail("expected a rejection"), (err: unknown) => err);
const kinds = (err: unknown) => ({ stream: isNotFound(err, "stream"), consumer: isNotFound(err, "consumer"), message: isNotFound(err, "message") });

describe("isNotFound against nats-server", () => {
  it("tells a missing stream from a missing consumer, whichever call reports it", async () => {
    expect(kinds(await thrown(nats.jsm.streams.info("MISSING")))).toEqual({ stream: true, consumer: false, message: false });
    expect(kinds(await thrown(nats.jsm.consumers.info("KNOWN", "missing")))).toEqual({ stream: false, consumer: true, message: false });
    // Asking for a consumer of a missing stream is a missing stream, not a missing consumer.
    expect(kinds(await thrown(nats.jsm.consumers.info("MISSING", "missing")))).toEqual({ stream: true, consumer: false, message: false });
  });

  it("tells a missing message by its API code", async () => {
    // streams.getMessage answers null for it; the raw API reply is what it reads.
    const reply = await nats.nc.request("$JS.API.STREAM.MSG.GET.KNOWN", JSON.stringify({ last_by_subj: "known.nothing" }));
    const err = new JetStreamApiError(JSON.parse(new TextDecoder().decode(reply.data)).error);
    expect(kinds(err)).toEqual({ stream: false, consumer: false, message: true });
    expect(await nats.jsm.streams.getMessage("KNOWN", { last_by_subj: "known.nothing" })).toBeNull();
  });

  it("is false for anything that is not a JetStream API answer", () => {
    expect(kinds(new Error("stream not found"))).toEqual({ stream: false, consumer: false, message: false });
  });
});

describe("isAlreadyExists against nats-server", () => {
  it("recognises a stream name in use, and not an unrelated refusal", async () => {
    const inUse = await thrown(nats.jsm.streams.add({ name: "KNOWN", subjects: ["other.>"] }));
    expect(isAlreadyExists(inUse, "stream")).toBe(true);
    expect(isAlreadyExists(inUse, "consumer")).toBe(false);
    const overlap = await thrown(nats.jsm.streams.add({ name: "OVERLAP", subjects: ["known.x"] }));
    expect(isAlreadyExists(overlap, "stream")).toBe(false);
    expect(isSubjectOverlap(overlap)).toBe(true);
    expect(isSubjectOverlap(inUse)).toBe(false);
  });
});

describe("findLastEvent against nats-server", () => {
  it("answers null for a job with no such event, and fails (not null) when the stream is missing", async () => {
    const jobId = "5b0d7d3e-0000-4000-8000-000000000001";
    await expect(findLastEvent(nats.jsm, "verification.requested", jobId)).rejects.toSatisfy((err) => isNotFound(err, "stream"));
    await ensureStreams(nats.jsm, topology);
    expect(await findLastEvent(nats.jsm, "verification.requested", jobId)).toBeNull();
    const request = { jobType: "verify" as const, manifestUri: "ipfs://bafy", registryAddress: `0x${"12".repeat(20)}`, rpcUrl: null, callbackUrl: null };
    const event = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } });
    await publishEvents(nats.js, [event]);
    expect(await findLastEvent(nats.jsm, "verification.requested", jobId)).toMatchObject({ id: event.id });
    await nats.jsm.streams.delete(STREAM_NAME);
  });
});

describe("isNatsUnavailableError against nats-server", () => {
  it("is true for no responders (no stream takes the subject), false for answers that mean 'your request is wrong'", async () => {
    const noStream = await thrown(nats.js.publish("nobody.listens", "x"));
    expect(isNatsUnavailableError(noStream)).toBe(true);
    expect(isNatsUnavailableError(new Error("wrapped", { cause: noStream }))).toBe(true);
    expect(isNatsUnavailableError(await thrown(nats.jsm.streams.info("MISSING")))).toBe(false);
    expect(isNatsUnavailableError(new Error("connection closed: timeout, 503"))).toBe(false);
  });

  it("is true for a timeout while the server is down and for a closed connection", async () => {
    const other = await startNatsServer();
    const clients = await connectNats({ url: other.url, name: "nats-errors-down", log: createSilentLogger(), timeoutMs: 500 });
    await other.stop();
    expect(isNatsUnavailableError(await thrown(clients.jsm.streams.info("KNOWN")))).toBe(true);
    await clients.nc.close();
    expect(isNatsUnavailableError(await thrown(clients.jsm.streams.info("KNOWN")))).toBe(true);
  });
});
