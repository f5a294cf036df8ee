import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, type Job__Output, type JobServiceClient, type SubmissionServiceClient, type SubmitVerificationRequest } from "@veriflow/grpc";
import { JOBS_PATH, UPLOADS_BUCKET } from "@veriflow/events";
import { connectNats, findLastEvent } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { getJson, submit } from "../support/client.js";
import {
  call,
  checkHealth,
  collect,
  fileContainingSymbol,
  jobServiceClient,
  listServicesByReflection,
  submissionServiceClient,
  submitVerification,
} from "../support/grpc.js";
import { startSystem, type System } from "../support/system.js";

// The whole system on real servers, with API keys on: every call below sends one,
// except those that check that a call without one is refused.
const API_KEY = "grpc-test-key";
const UPLOAD_IDLE_MS = 1000;
let sys: System;
let jobs: JobServiceClient;
let submissions: SubmissionServiceClient;

beforeAll(async () => {
  sys = await startSystem({ API_KEYS: API_KEY, STATUS_WATCH_POLL_MS: "500", GRPC_UPLOAD_IDLE_TIMEOUT_MS: String(UPLOAD_IDLE_MS) });
  jobs = jobServiceClient(sys.statusGrpcAddress);
  submissions = submissionServiceClient(sys.gatewayGrpcAddress);
});
afterAll(async () => {
  jobs?.close();
  submissions?.close();
  await sys?.stop();
});

const auth = (key = API_KEY) => {
  const m = new grpc.Metadata();
  m.set("x-api-key", key);
  return m;
};
const inSeconds = (s: number) => new Date(Date.now() + s * 1000);

const publish: System["publish"] = (content, opts) => sys.publish(content, opts);

function chunked(bytes: Uint8Array, size: number): SubmitVerificationRequest[] {
  const out: SubmitVerificationRequest[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push({ chunk: Buffer.from(bytes.subarray(i, i + size)) });
  return out;
}

async function submitFile(content: Uint8Array, manifestUri: string, type: "JOB_TYPE_VERIFY" | "JOB_TYPE_PROOF" = "JOB_TYPE_VERIFY", chunkSize = 7) {
  return submitVerification(
    submissions,
    [{ metadata: { type, registryAddress: sys.registry, manifestUri, fileName: "upload.bin", contentType: "application/octet-stream" } }, ...chunked(content, chunkSize)],
    auth(),
  );
}

function watchToEnd(jobId: string) {
  return collect(jobs.watchJob({ jobId }, auth(), { deadline: inSeconds(30) }));
}

/** Current open watches on the status replica, from its /metrics. */
async function openWatches(kind: "job" | "terminal"): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sys.services.status.opsPort}/metrics`)).text();
  const m = new RegExp(`^veriflow_watch_streams\\{kind="${kind}"\\} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("health and reflection", () => {
  it("both servers answer SERVING, overall and per service, without an API key", async () => {
    expect(await checkHealth(sys.statusGrpcAddress)).toBe("SERVING");
    expect(await checkHealth(sys.statusGrpcAddress, "veriflow.v1.JobService")).toBe("SERVING");
    expect(await checkHealth(sys.gatewayGrpcAddress)).toBe("SERVING");
    expect(await checkHealth(sys.gatewayGrpcAddress, "veriflow.v1.SubmissionService")).toBe("SERVING");
  });

  it("reflection lists each server's services and describes them without the proto files", async () => {
    expect(await listServicesByReflection(sys.statusGrpcAddress)).toEqual(["grpc.health.v1.Health", "veriflow.v1.DeadLetterService", "veriflow.v1.JobService"]);
    expect(await listServicesByReflection(sys.gatewayGrpcAddress)).toEqual(["grpc.health.v1.Health", "veriflow.v1.SubmissionService"]);
    expect(await fileContainingSymbol(sys.statusGrpcAddress, "veriflow.v1.JobService")).toBeGreaterThan(0);
    expect(await fileContainingSymbol(sys.statusGrpcAddress, "veriflow.v1.DeadLetterService")).toBeGreaterThan(0);
    expect(await fileContainingSymbol(sys.gatewayGrpcAddress, "veriflow.v1.SubmitVerificationRequest")).toBeGreaterThan(0);
  });
});

describe("SubmitVerification → WatchJob → GetJob", () => {
  it("a file sent in chunks is verified OK, watched from its current state to completion", async () => {
    const content = new TextEncoder().encode(`grpc ok ${randomBytes(16).toString("hex")}`);
    const { contentHash, manifestUri } = await publish(content);
    const accepted = await submitFile(content, manifestUri);
    expect(accepted).toMatchObject({ status: "JOB_STATUS_QUEUED", pollUrl: `${JOBS_PATH}/${accepted.jobId}` });

    const { messages, error } = await watchToEnd(accepted.jobId);
    expect(error).toBeNull();
    const statuses = messages.map((j) => j.status);
    expect(statuses.at(-1)).toBe("JOB_STATUS_COMPLETED");
    expect(statuses.filter((s) => s === "JOB_STATUS_COMPLETED")).toHaveLength(1); // ends after the terminal state
    const progress = messages.map((j) => j.progress);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress); // never backwards

    const last = messages.at(-1)!;
    expect(last).toMatchObject({ id: accepted.jobId, type: "JOB_TYPE_VERIFY", progress: 100, contentHash, manifestUri, registryAddress: sys.registry, fileName: "upload.bin", fileSize: String(content.length) });
    expect(last.verdict).toMatchObject({ status: "OK", reasons: [], fileHash: contentHash, checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true } });
    expect(last.verdict!.onchain).toMatchObject({ creator: sys.chain.accounts[0]!.address, manifestUri, revoked: false, blockNumber: expect.stringMatching(/^[1-9][0-9]*$/) });
    expect(JSON.parse(last.resultJson!)).toMatchObject({ status: "OK", fileHash: contentHash });

    const got = await call<Job__Output>((cb) => jobs.getJob({ jobId: accepted.jobId }, auth(), cb));
    expect(got).toEqual(last);
    expect(Number(got.completedAt!.seconds)).toBeGreaterThan(0);

    // The request named where its one-chunk upload was stored, as REST's does.
    const nats = await connectNats({ url: sys.nats.url, name: "grpc-request-test", log: createSilentLogger() });
    const request = await findLastEvent(nats.jsm, "verification.requested", accepted.jobId);
    expect(request?.data).toMatchObject({ upload: { chunks: 1, entrySeq: expect.any(Number), chunkSeq: expect.any(Number) } });
    await nats.close();
  });

  it("a multi-megabyte upload streams through, and a proof job carries its proof document", async () => {
    const content = randomBytes(3 * 1024 * 1024 + 17);
    const { contentHash, manifestUri } = await publish(content);
    const accepted = await submitFile(content, manifestUri, "JOB_TYPE_PROOF", 256 * 1024);
    const { messages } = await watchToEnd(accepted.jobId);
    const last = messages.at(-1)!;
    expect(last).toMatchObject({ status: "JOB_STATUS_COMPLETED", type: "JOB_TYPE_PROOF", contentHash, fileSize: String(content.length) });
    expect(JSON.parse(last.resultJson!)).toMatchObject({ proofVersion: "veriflow.proof/1", status: "OK", registryAddress: sys.registry });
  });

  it("refuses bad submissions with INVALID_ARGUMENT before storing anything", async () => {
    const bad = await submitVerification(
      submissions,
      [{ metadata: { type: "JOB_TYPE_VERIFY", registryAddress: "0x1234", manifestUri: "ipfs://x" } }, { chunk: Buffer.from("x") }],
      auth(),
    ).catch((e: grpc.ServiceError) => e);
    expect(bad).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((bad as grpc.ServiceError).metadata.get("x-error-code")).toEqual(["E_INVALID_REGISTRY_ADDRESS"]);

    const noMetadata = await submitVerification(submissions, [{ chunk: Buffer.from("x") }], auth()).catch((e: grpc.ServiceError) => e);
    expect(noMetadata).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining("metadata") });

    const noType = await submitVerification(submissions, [{ metadata: { registryAddress: sys.registry, manifestUri: "https://example.com/m.json" } }], auth()).catch(
      (e: grpc.ServiceError) => e,
    );
    expect(noType).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });

    const noFile = await submitVerification(submissions, [{ metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri: "https://example.com/m.json" } }], auth()).catch(
      (e: grpc.ServiceError) => e,
    );
    expect(noFile).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((noFile as grpc.ServiceError).metadata.get("x-error-code")).toEqual(["E_FILE_REQUIRED"]);

    // NUL cannot be stored by PostgreSQL: refused before the file is taken.
    const nul = await submitVerification(
      submissions,
      [{ metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri: "https://example.com/m.json", fileName: "a\u0000.jpg" } }, { chunk: Buffer.from("x") }],
      auth(),
    ).catch((e: grpc.ServiceError) => e);
    expect(nul).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((nul as grpc.ServiceError).metadata.get("x-error-code")).toEqual(["E_CONTROL_CHARACTER"]);
  });
});

describe("a stalled upload", () => {
  it("ends with DEADLINE_EXCEEDED E_REQUEST_TIMEOUT after GRPC_UPLOAD_IDLE_TIMEOUT_MS without a message, and leaves no upload behind", async () => {
    const nats = await connectNats({ url: sys.nats.url, name: "grpc-idle-test", log: createSilentLogger() });
    // Stored bytes: chunk messages (a deleted object keeps only a small tombstone of its metadata).
    const uploads = async () => {
      const { state } = await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`, { subjects_filter: `$O.${UPLOADS_BUCKET}.C.>` });
      return Object.values(state.subjects ?? {}).reduce((a, b) => a + b, 0);
    };
    await eventually(async () => (await uploads()) === 0);
    const started = Date.now();
    const answer = await new Promise<grpc.ServiceError | null>((resolve) => {
      const stream = submissions.submitVerification(auth(), (err) => resolve(err));
      stream.write({ metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri: "https://example.com/m.json" } });
      stream.write({ chunk: randomBytes(600 * 1024) }); // more than one stored chunk, then silence
    });
    expect(answer).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    expect(answer!.metadata.get("x-error-code")).toEqual(["E_REQUEST_TIMEOUT"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(UPLOAD_IDLE_MS - 100);
    expect(Date.now() - started).toBeLessThan(UPLOAD_IDLE_MS + 3000);
    await eventually(async () => (await uploads()) === 0); // the partial upload was purged
    await nats.close();
  });
});

describe("errors and auth", () => {
  const UNKNOWN = "00000000-0000-4000-8000-000000000000";

  it("NOT_FOUND for an unknown job, INVALID_ARGUMENT for a malformed id, with the E_* code in the trailers", async () => {
    const missing = await call((cb) => jobs.getJob({ jobId: UNKNOWN }, auth(), cb)).catch((e: grpc.ServiceError) => e);
    expect(missing).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect((missing as grpc.ServiceError).metadata.get("x-error-code")).toEqual(["E_JOB_NOT_FOUND"]);
    const malformed = await call((cb) => jobs.getJob({ jobId: "nope" }, auth(), cb)).catch((e: grpc.ServiceError) => e);
    expect(malformed).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect((await collect(jobs.watchJob({ jobId: UNKNOWN }, auth()))).error).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect((await collect(jobs.watchJob({ jobId: "" }, auth()))).error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it("UNAUTHENTICATED without a key or with a wrong one, on unary, streaming and client-streaming calls", async () => {
    const noKey = await call((cb) => jobs.getStats({}, cb)).catch((e: grpc.ServiceError) => e);
    expect(noKey).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const wrong = await call((cb) => jobs.getStats({}, auth("wrong"), cb)).catch((e: grpc.ServiceError) => e);
    expect(wrong).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect((await collect(jobs.watchJobs({}))).error).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const bearer = new grpc.Metadata();
    bearer.set("authorization", `Bearer ${API_KEY}`);
    await expect(call((cb) => jobs.getStats({}, bearer, cb))).resolves.toMatchObject({ available: true });
    const upload = await submitVerification(submissions, [{ chunk: Buffer.from("x") }]).catch((e: grpc.ServiceError) => e);
    expect(upload).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it("the gateway's REST job routes take the same keys the same ways (one check, createApiKeyCheck)", async () => {
    const stats = (headers: Record<string, string>) => getJson(`${sys.gatewayUrl}${JOBS_PATH}/stats`, headers);
    expect(await stats({})).toMatchObject({ status: 401, body: { error: { code: "E_UNAUTHORIZED" } } });
    expect(await stats({ "x-api-key": "wrong" })).toMatchObject({ status: 401, body: { error: { code: "E_UNAUTHORIZED" } } });
    expect((await stats({ "x-api-key": API_KEY })).status).toBe(200);
    expect((await stats({ authorization: `Bearer ${API_KEY}` })).status).toBe(200);
  });
});

describe("ListJobs and GetStats", () => {
  it("pages newest first with opaque tokens, filters, and caps the page size", async () => {
    const content = new TextEncoder().encode(`grpc list ${randomBytes(16).toString("hex")}`);
    const { contentHash, manifestUri } = await publish(content);
    const accepted = await submitFile(content, manifestUri);
    await watchToEnd(accepted.jobId);

    const list = (req: object) => call<any>((cb) => jobs.listJobs(req, auth(), cb));
    const all = await list({ pageSize: 1000 });
    expect(all.jobs.length).toBeGreaterThanOrEqual(3);
    expect(all.jobs.length).toBeLessThanOrEqual(100);
    const created = all.jobs.map((j: Job__Output) => Number(j.createdAt!.seconds) * 1e3 + j.createdAt!.nanos / 1e6);
    expect([...created].sort((a, b) => b - a)).toEqual(created);

    const seen: string[] = [];
    let token = "";
    do {
      const page = await list({ pageSize: 1, pageToken: token });
      expect(page.jobs.length).toBeLessThanOrEqual(1);
      seen.push(...page.jobs.map((j: Job__Output) => j.id));
      token = page.nextPageToken;
    } while (token);
    expect(seen).toEqual(all.jobs.map((j: Job__Output) => j.id));

    const byHash = await list({ filter: { contentHash: contentHash.toUpperCase().replace("0X", "0x") } });
    expect(byHash.jobs.map((j: Job__Output) => j.id)).toEqual([accepted.jobId]);
    const completedVerify = await list({ filter: { status: "JOB_STATUS_COMPLETED", type: "JOB_TYPE_VERIFY" } });
    expect(completedVerify.jobs.map((j: Job__Output) => j.id)).toContain(accepted.jobId);
    expect(completedVerify.jobs.every((j: Job__Output) => j.status === "JOB_STATUS_COMPLETED" && j.type === "JOB_TYPE_VERIFY")).toBe(true);
    const future = await list({ filter: { createdAfter: { seconds: String(Math.floor(Date.now() / 1000) + 3600) } } });
    expect(future.jobs).toEqual([]);
    const past = await list({ filter: { createdBefore: { seconds: "1" } } });
    expect(past).toEqual({ jobs: [], nextPageToken: "" });

    await expect(list({ pageToken: "not-a-token" })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(list({ filter: { contentHash: "0x12" } })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(list({ pageSize: -1 })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it("GetStats counts jobs by status", async () => {
    const stats = await call<any>((cb) => jobs.getStats({}, auth(), cb));
    expect(stats).toMatchObject({ available: true, queued: expect.any(Number), processing: expect.any(Number), failed: expect.any(Number) });
    expect(stats.completed).toBeGreaterThanOrEqual(3);
  });
});

describe("WatchJobs, deadlines and cancellation", () => {
  it("WatchJobs sends a completion matching its filter as it happens", async () => {
    const stream = jobs.watchJobs({ filter: { status: "JOB_STATUS_COMPLETED", type: "JOB_TYPE_VERIFY" } }, auth(), { deadline: inSeconds(30) });
    const received: Job__Output[] = [];
    stream.on("data", (j: Job__Output) => received.push(j));
    stream.on("error", () => {});
    await new Promise((r) => stream.once("metadata", r)); // the watch is open
    await eventually(async () => (await openWatches("terminal")) === 1);

    const content = `grpc watch ${randomBytes(16).toString("hex")}`;
    const { manifestUri } = await publish(content);
    const rest = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, headers: { "x-api-key": API_KEY } });
    expect(rest.status).toBe(202);
    await eventually(async () => received.some((j) => j.id === rest.body.jobId), 15_000);
    expect(received.find((j) => j.id === rest.body.jobId)).toMatchObject({ status: "JOB_STATUS_COMPLETED", verdict: { status: "OK" } });
    expect(received.every((j) => j.status === "JOB_STATUS_COMPLETED")).toBe(true);

    stream.cancel();
    await eventually(async () => (await openWatches("terminal")) === 0);
  });

  it("WatchJobs refuses a status it never sends", async () => {
    const { error } = await collect(jobs.watchJobs({ filter: { status: "JOB_STATUS_QUEUED" } }, auth()));
    expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it("a deadline ends a watch with DEADLINE_EXCEEDED and the server drops it", async () => {
    const started = Date.now();
    const { error } = await collect(jobs.watchJobs({}, auth(), { deadline: new Date(Date.now() + 300) }));
    expect(error).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    expect(Date.now() - started).toBeLessThan(5000);
    await eventually(async () => (await openWatches("terminal")) === 0);
  });

  it("a client cancelling a WatchJob frees the server's watch; a new watch follows the job once work resumes", async () => {
    await sys.services.hashing.stop(); // the job will wait in the queue
    const content = new TextEncoder().encode(`grpc cancel ${randomBytes(16).toString("hex")}`);
    const { manifestUri } = await publish(content);
    const accepted = await submitFile(content, manifestUri);

    const stream = jobs.watchJob({ jobId: accepted.jobId }, auth());
    const first = await new Promise<Job__Output>((resolve) => stream.once("data", resolve));
    expect(first.status).toBe("JOB_STATUS_QUEUED");
    expect(await openWatches("job")).toBe(1);
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    stream.cancel();
    expect((await ended).code).toBe(grpc.status.CANCELLED);
    await eventually(async () => (await openWatches("job")) === 0);

    const watch = watchToEnd(accepted.jobId);
    await eventually(async () => (await openWatches("job")) === 1);
    await sys.startService("hashing");
    const { messages, error } = await watch;
    expect(error).toBeNull();
    expect(messages[0]!.status).toBe("JOB_STATUS_QUEUED");
    expect(messages.at(-1)!.status).toBe("JOB_STATUS_COMPLETED");
    expect(messages.length).toBeGreaterThanOrEqual(2);
    await eventually(async () => (await openWatches("job")) === 0);
  });
});
