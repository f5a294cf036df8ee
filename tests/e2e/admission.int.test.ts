import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, type SubmissionServiceClient } from "@veriflow/grpc";
import { BATCHES_PATH, JOBS_PATH, UPLOADS_BUCKET } from "@veriflow/events";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { eventually, submit, waitForJob } from "../support/client.js";
import { collect, jobServiceClient, submissionServiceClient, submitVerification } from "../support/grpc.js";
import { scrapeMetrics, sumOf } from "../support/metrics.js";
import { openUpload } from "../support/raw-upload.js";
import { startSystem, type System } from "../support/system.js";

// Admission control on the whole system: a backlog bound (3 unfinished jobs), fields
// refused before the file is stored, open watches (2 per status replica), and a bound on
// in-process verifications (1).
const MAX_BACKLOG = 3;
const MAX_WATCHES = 2;
let sys: System;
let nats: NatsClients;
let grpcClient: SubmissionServiceClient;
let manifestURI: string;
let content: string;

beforeAll(async () => {
  sys = await startSystem({ GATEWAY_MAX_BACKLOG: String(MAX_BACKLOG), GATEWAY_FALLBACK_CONCURRENCY: "1", STATUS_MAX_WATCHES: String(MAX_WATCHES) });
  nats = await connectNats({ url: sys.nats.url, name: "admission-test", log: createSilentLogger() });
  grpcClient = submissionServiceClient(sys.gatewayGrpcAddress);
  content = `admission ${randomBytes(8).toString("hex")}`;
  manifestURI = (await sys.publish(content)).manifestUri;
});
afterAll(async () => {
  grpcClient?.close();
  await nats?.close();
  await sys?.stop();
});

const submitOk = () => submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI });
const submitGrpc = () =>
  submitVerification(grpcClient, [
    { metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri: manifestURI } },
    { chunk: Buffer.from(content) },
  ]).catch((e: grpc.ServiceError) => e);
const uploadsInBucket = async () => (await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`)).state.messages;
/** Waits until every earlier job's upload is hashed and deleted, so what the bucket holds next is the test's. */
const emptyBucket = () => eventually("an empty uploads bucket", async () => ((await uploadsInBucket()) === 0 ? 0 : undefined));

describe("the backlog bound", () => {
  it("answers 503 E_QUEUE_BACKLOG with Retry-After past it (REST and gRPC), loses nothing, and takes work again once it drains", async () => {
    await sys.services.hashing.stop(); // nothing leaves the queue now
    const accepted: string[] = [];
    let refused: Awaited<ReturnType<typeof submitOk>> | undefined;
    let refusedAt: Headers | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: form() });
      const body = (await res.json()) as any;
      if (res.status === 202) accepted.push(body.jobId);
      else {
        refused = { status: res.status, body };
        refusedAt = res.headers;
      }
    }
    // The reading is at most a second old, and this replica counts what it accepted since.
    expect(accepted.length).toBeGreaterThanOrEqual(MAX_BACKLOG - 1);
    expect(accepted.length).toBeLessThanOrEqual(MAX_BACKLOG);
    expect(refused?.status).toBe(503);
    expect(refused?.body.error).toMatchObject({ code: "E_QUEUE_BACKLOG", message: expect.stringMatching(/unfinished interactive jobs \(limit 3\)/) });
    expect(Number(refusedAt?.get("retry-after"))).toBeGreaterThanOrEqual(1);

    const rpc = (await submitGrpc()) as grpc.ServiceError;
    expect(rpc.code).toBe(grpc.status.UNAVAILABLE);
    expect(rpc.metadata.get("x-error-code")).toEqual(["E_QUEUE_BACKLOG"]);
    expect(Number(rpc.metadata.get("retry-after")[0])).toBeGreaterThanOrEqual(1);

    await sys.startService("hashing");
    for (const jobId of accepted) expect((await waitForJob(sys.gatewayUrl, jobId)).status).toBe("completed");
    const again = await eventually("a submission accepted again", async () => ((await submitOk()).status === 202 ? true : undefined));
    expect(again).toBe(true);
  });
});

describe("the backlog bound, per priority class", () => {
  it("refuses more bulk work past a bulk backlog, and still takes a single verification", async () => {
    await sys.services.hashing.stop(); // nothing leaves the queue now
    const batchOf = (files: number) => {
      const f = new FormData();
      f.append("registryAddress", sys.registry);
      for (let i = 0; i < files; i++) f.append("file", new Blob([content]), `part-${i}.bin`);
      for (let i = 0; i < files; i++) f.append("manifestURI", manifestURI);
      return f;
    };
    const first = await fetch(`${sys.gatewayUrl}${BATCHES_PATH}`, { method: "POST", body: batchOf(MAX_BACKLOG) });
    const firstBody = (await first.json()) as { jobs: { jobId: string }[] };
    expect(first.status, JSON.stringify(firstBody)).toBe(202);
    expect(firstBody.jobs).toHaveLength(MAX_BACKLOG);

    // The bulk class is full (its 3 jobs wait); another batch is told to come back later.
    const second = await fetch(`${sys.gatewayUrl}${BATCHES_PATH}`, { method: "POST", body: batchOf(1) });
    expect(second.status).toBe(503);
    expect(((await second.json()) as any).error).toMatchObject({ code: "E_QUEUE_BACKLOG", message: expect.stringContaining("unfinished bulk jobs") });

    // A single verification is interactive work, bounded on its own: accepted.
    const single = await submitOk();
    expect(single.status, JSON.stringify(single.body)).toBe(202);

    await sys.startService("hashing");
    for (const jobId of [...firstBody.jobs.map((j) => j.jobId), single.body.jobId as string]) expect((await waitForJob(sys.gatewayUrl, jobId)).status).toBe("completed");
  });
});

function form(fields: Record<string, string> = { registryAddress: sys.registry, manifestURI }, file: string = content): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  f.append("file", new Blob([file]), "upload.bin");
  return f;
}

describe("fields before the file", () => {
  it("refuses a bad field when the file part starts: the client is cut off and nothing is stored", async () => {
    const before = await emptyBucket();
    const fileSize = 512 * 1024 * 1024;
    const upload = openUpload(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { fields: { registryAddress: "0x1234", manifestURI }, fileSize });
    while (upload.sent < fileSize && (await upload.send(1024 * 1024)));
    const answer = await upload.response;
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("E_INVALID_REGISTRY_ADDRESS");
    // A few socket buffers at most, not the half gigabyte.
    expect(upload.sent).toBeLessThan(64 * 1024 * 1024);
    expect(await uploadsInBucket()).toBe(before);
  });

  it("checks fields sent after the file once it is stored, and deletes it", async () => {
    await emptyBucket();
    const upload = openUpload(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { fields: { registryAddress: "0x1234", manifestURI }, fileSize: 2 * 1024 * 1024, fieldsAfterFile: true });
    await upload.finish();
    const answer = await upload.response;
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("E_INVALID_REGISTRY_ADDRESS");
    // Its 2 MiB are gone; what is left is the object store's deletion marker.
    expect((await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`)).state.bytes).toBeLessThan(1024);
  });

  it("does not refuse a field that has not arrived yet", async () => {
    const upload = openUpload(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { fields: { manifestURI, registryAddress: sys.registry }, fileSize: 1000, fieldsAfterFile: true });
    await upload.finish();
    expect((await upload.response).status).toBe(202);
  });
});

describe("open watches", () => {
  it("refuses one past STATUS_MAX_WATCHES: SSE 503 E_TOO_MANY_WATCHES with Retry-After, gRPC RESOURCE_EXHAUSTED; a closed one frees its slot", async () => {
    await sys.services.hashing.stop(); // the job stays queued: its watches stay open
    const queued = await submitOk();
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    const sse = () => {
      const ac = new AbortController();
      return { ac, res: fetch(`${sys.gatewayUrl}${JOBS_PATH}/${queued.body.jobId}/events`, { signal: ac.signal }) };
    };
    const open = [sse(), sse()];
    for (const w of open) expect((await w.res).status).toBe(200);

    const third = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/${queued.body.jobId}/events`);
    expect(third.status).toBe(503);
    expect(third.headers.get("retry-after")).toBe("5");
    expect(((await third.json()) as any).error.code).toBe("E_TOO_MANY_WATCHES");
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    const { error } = await collect(jobs.watchJobs({}));
    jobs.close();
    expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(error?.metadata.get("x-error-code")).toEqual(["E_TOO_MANY_WATCHES"]);

    open[0]!.ac.abort();
    const next = await eventually("a watch slot to free up", async () => {
      const r = sse();
      const res = await r.res;
      if (res.status === 200) return r;
      await res.body?.cancel();
      return undefined;
    });
    next.ac.abort();
    open[1]!.ac.abort();
    await sys.startService("hashing");
  });
});

describe("the in-process fallback's bound", () => {
  beforeAll(async () => {
    await sys.nats.stop({ keepStore: true });
    await eventually("the gateway to notice NATS is down", async () => ((await fetch(`http://127.0.0.1:${sys.services.gateway.opsPort}/readyz`)).status === 503 ? true : undefined));
  });
  afterAll(async () => {
    await sys.nats.restart();
  });

  it("answers 503 E_FALLBACK_BUSY with Retry-After while its one slot is taken (REST and gRPC), then verifies again", async () => {
    const refused = async () => sumOf(await scrapeMetrics(sys.services.gateway.opsPort), "veriflow_fallback_rejected_total");
    const refusedBefore = await refused();
    // Holds the slot: its body arrives slowly.
    const slow = openUpload(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { fields: { registryAddress: sys.registry, manifestURI }, fileSize: 4096 });
    await slow.send(1024);
    // Its request reaches the gateway first: the checks below go out after it is in.
    await new Promise((r) => setTimeout(r, 300));
    const busy = await eventually("the slow upload to take the slot", async () => {
      const res = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: form() });
      return res.status === 503 ? { body: (await res.json()) as any, headers: res.headers } : undefined;
    });
    expect(busy.body.error.code).toBe("E_FALLBACK_BUSY");
    expect(busy.headers.get("retry-after")).toBe("2");
    expect(busy.headers.get("x-veriflow-mode")).toBe("fallback");
    const rpc = (await submitGrpc()) as grpc.ServiceError;
    expect(rpc.code).toBe(grpc.status.UNAVAILABLE);
    expect(rpc.metadata.get("x-error-code")).toEqual(["E_FALLBACK_BUSY"]);
    // Each refusal counted (REST and gRPC, and any the wait above saw), while the slot is taken.
    expect(await refused()).toBeGreaterThanOrEqual(refusedBefore + 2);

    await slow.finish();
    const done = await slow.response;
    expect(done.status).toBe(200);
    expect(done.body.result.status).toBe("FAIL"); // its bytes are not the registered ones
    const next = await submitOk();
    expect(next.status).toBe(200);
    expect(next.body).toMatchObject({ mode: "sync", result: { status: "OK" } });
  });
});
