import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEAD_LETTERS_PATH, JOBS_PATH, UPLOADS_BUCKET, createRequestEvent, newJobId, pipeline, subjectFor } from "@veriflow/events";
import { grpc } from "@veriflow/grpc";
import { connectNats, publishEvents, putUpload, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { submit } from "../support/client.js";
import { call, deadLetterServiceClient, jobServiceClient } from "../support/grpc.js";
import { startSystem, type System } from "../support/system.js";

// Retrying failed jobs (and, below, replaying dead letters) on the whole system, with API keys on.
const API_KEY = "recovery-test-key";
const auth = { "x-api-key": API_KEY };
let sys: System;
let nats: NatsClients;

beforeAll(async () => {
  sys = await startSystem({ API_KEYS: API_KEY });
  nats = await connectNats({ url: sys.nats.url, name: "recovery-test", log: createSilentLogger() });
});
afterAll(async () => {
  await nats?.close();
  await sys?.stop();
});

const uniqueContent = (label: string) => `${label} ${randomBytes(16).toString("hex")}`;

async function api(method: string, path: string, headers: Record<string, string> = auth): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${sys.gatewayUrl}${path}`, { method, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** Polls a job (through the gateway, with the key) until it is completed or failed. */
async function waitFor(jobId: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api("GET", `${JOBS_PATH}/${jobId}`);
    if (body?.status === "completed" || body?.status === "failed") return body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${body?.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A job that fails at the manifest stage: its manifest host answers 404 once, then the manifest. */
async function jobFailingOnceAtManifest() {
  const content = uniqueContent("retry");
  const { manifestUri } = await sys.publish(content);
  sys.manifests.failNext(manifestUri, 1, 404);
  const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, headers: auth });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  const failed = await waitFor(accepted.body.jobId);
  expect(failed).toMatchObject({ status: "failed", run: 1, failure: { stage: "manifest", code: "E_MANIFEST_NOT_FOUND" } });
  return { jobId: accepted.body.jobId as string, content, manifestUri };
}

describe("POST /api/verification-jobs/:jobId/retry", () => {
  it("runs a failed job again from the stage that gave up, as run 2 with new event ids; the history keeps both runs", async () => {
    const { jobId } = await jobFailingOnceAtManifest();
    const retried = await api("POST", `${JOBS_PATH}/${jobId}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).toBe(202);
    expect(retried.headers.get("location")).toBe(`${JOBS_PATH}/${jobId}`);
    expect(retried.body).toMatchObject({ jobId, run: 2, stage: "manifest", status: "processing", pollUrl: `${JOBS_PATH}/${jobId}` });
    // Readable at once in its new run: no longer failed.
    expect(retried.body.job).toMatchObject({ run: 2, status: "processing", failure: null, error: null });

    const done = await waitFor(jobId);
    expect(done).toMatchObject({ run: 2, status: "completed", result: { status: "OK" }, failure: null });
    const history = (await api("GET", `${JOBS_PATH}/${jobId}/history`)).body.events as { id: string; type: string; run: number }[];
    expect(history.map((e) => [e.type, e.run])).toEqual([
      ["verification.requested", 1],
      ["content.hashed", 1],
      ["verification.failed", 1],
      ["content.hashed", 2],
      ["manifest.checked", 2],
      ["verification.completed", 2],
    ]);
    expect(new Set(history.map((e) => e.id)).size).toBe(history.length);

    // Completed now: nothing to retry.
    const again = await api("POST", `${JOBS_PATH}/${jobId}/retry`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("E_JOB_NOT_RETRYABLE");
  });

  it("retries a job that failed at hashing while its upload is still stored; answers 410 E_UPLOAD_GONE once it is not", async () => {
    // A request naming an upload that is not (yet) in the bucket: hashing gives up at once.
    const content = uniqueContent("hashing");
    const { manifestUri } = await sys.publish(content);
    const jobId = newJobId();
    const upload = { bucket: UPLOADS_BUCKET, name: jobId, size: content.length, fileName: "late.txt", contentType: "text/plain", nuid: null, chunks: null, digest: null };
    const request = { jobType: "verify" as const, manifestUri, registryAddress: sys.registry, rpcUrl: null, callbackUrl: null };
    await publishEvents(nats.js, [createRequestEvent(jobId, { jobId, request, upload })]);
    expect(await waitFor(jobId)).toMatchObject({ status: "failed", failure: { stage: "hashing", code: "E_UPLOAD_NOT_FOUND" } });

    const gone = await api("POST", `${JOBS_PATH}/${jobId}/retry`);
    expect(gone.status).toBe(410);
    expect(gone.body.error.code).toBe("E_UPLOAD_GONE");
    expect((await api("GET", `${JOBS_PATH}/${jobId}`)).body).toMatchObject({ status: "failed", run: 1 });

    // The upload arrives after all: the retry hashes it and the job completes.
    await putUpload(nats, jobId, Readable.from([Buffer.from(content)]));
    const retried = await api("POST", `${JOBS_PATH}/${jobId}/retry`);
    expect(retried.status, JSON.stringify(retried.body)).toBe(202);
    expect(retried.body).toMatchObject({ run: 2, stage: "hashing", status: "queued" });
    expect(await waitFor(jobId)).toMatchObject({ run: 2, status: "completed", result: { status: "OK" } });
  });

  it("asks for the API key, answers 404 for an unknown job, 409 for one still running, 400 for a bad id", async () => {
    const { jobId } = await jobFailingOnceAtManifest();
    expect((await api("POST", `${JOBS_PATH}/${jobId}/retry`, {})).status).toBe(401);
    // The status service checks the key too: its own port is no way around the gateway's check.
    const direct = await fetch(`${sys.statusUrl}${JOBS_PATH}/${jobId}/retry`, { method: "POST" });
    expect(direct.status).toBe(401);
    expect((await api("GET", `${JOBS_PATH}/${jobId}`)).body).toMatchObject({ status: "failed", run: 1 });

    expect((await api("POST", `${JOBS_PATH}/00000000-0000-4000-8000-000000000000/retry`)).body.error.code).toBe("E_JOB_NOT_FOUND");
    expect((await api("POST", `${JOBS_PATH}/not-a-job/retry`)).status).toBe(400);
    // Two retries of the same failure: the second finds the job running again (or done).
    const first = await api("POST", `${JOBS_PATH}/${jobId}/retry`);
    expect(first.status).toBe(202);
    const second = await api("POST", `${JOBS_PATH}/${jobId}/retry`);
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("E_JOB_NOT_RETRYABLE");
    expect(await waitFor(jobId)).toMatchObject({ run: 2, status: "completed" });
  });

  it("is JobService.RetryJob on gRPC", async () => {
    const { jobId } = await jobFailingOnceAtManifest();
    const client = jobServiceClient(sys.statusGrpcAddress);
    const md = new grpc.Metadata();
    md.set("x-api-key", API_KEY);
    try {
      const res = await call<any>((cb) => client.retryJob({ jobId }, md, cb));
      expect(res).toMatchObject({ run: 2, stage: "manifest", job: { id: jobId, run: 2, status: "JOB_STATUS_PROCESSING" } });
      await waitFor(jobId);
      const err = (await call((cb) => client.retryJob({ jobId }, md, cb)).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(err.metadata.get("x-error-code")).toEqual(["E_JOB_NOT_RETRYABLE"]);
    } finally {
      client.close();
    }
  });
});

describe("dead letters: /api/dead-letters", () => {
  it("lists, shows and replays what the consumers set aside; the replay goes to its consumer only", async () => {
    // Bytes that are no event: the manifest stage and every observer (status, webhooks, registry-watch) each set them aside.
    const jobId = newJobId();
    const subject = subjectFor("content.hashed", jobId);
    await nats.js.publish(subject, new TextEncoder().encode(`{"garbage": "${jobId}"}`));
    const setAsideBy = ["manifest", ...pipeline.observers.map((o) => o.durable)].sort();
    const listed = await waitForDeadLetters(subject, setAsideBy.length);
    expect(listed.map((d: any) => d.consumer).sort()).toEqual(setAsideBy);
    expect(listed[0]).toMatchObject({ subject, reason: expect.stringMatching(/bad envelope/), size: expect.any(Number), deadLetteredAt: expect.any(String) });

    const page = (await api("GET", `${DEAD_LETTERS_PATH}?consumer=manifest&limit=100`)).body;
    expect(page.deadLetters.every((d: any) => d.consumer === "manifest")).toBe(true);
    expect(page).toMatchObject({ total: page.byConsumer.manifest, limit: 100, next: null });

    const manifestLetter = listed.find((d: any) => d.consumer === "manifest");
    const shown = await api("GET", `${DEAD_LETTERS_PATH}/${manifestLetter.seq}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ seq: manifestLetter.seq, dataEncoding: "utf8", data: `{"garbage": "${jobId}"}`, json: { garbage: jobId } });

    const replayed = await api("POST", `${DEAD_LETTERS_PATH}/${manifestLetter.seq}/replay`);
    expect(replayed.status, JSON.stringify(replayed.body)).toBe(202);
    expect(replayed.body).toMatchObject({ seq: manifestLetter.seq, consumer: "manifest", subject, duplicate: false });
    expect((await api("GET", `${DEAD_LETTERS_PATH}/${manifestLetter.seq}`)).body.error.code).toBe("E_DEAD_LETTER_NOT_FOUND");
    // Still garbage: manifest sets it aside again, and only manifest (the observers skip it).
    await waitForDeadLetters(subject, setAsideBy.length);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await waitForDeadLetters(subject, setAsideBy.length);
    expect(after.map((d: any) => d.consumer).sort()).toEqual(setAsideBy);
    expect(after.find((d: any) => d.consumer === "manifest").seq).toBeGreaterThan(manifestLetter.seq);
  });

  it("asks for the API key to replay, answers 400 and 404 for bad and unknown sequences", async () => {
    expect((await api("GET", DEAD_LETTERS_PATH, {})).status).toBe(401);
    expect((await api("POST", `${DEAD_LETTERS_PATH}/1/replay`, {})).status).toBe(401);
    expect((await fetch(`${sys.statusUrl}${DEAD_LETTERS_PATH}/1/replay`, { method: "POST" })).status).toBe(401);
    expect((await api("GET", `${DEAD_LETTERS_PATH}/zero`)).body.error.code).toBe("E_INVALID_DEAD_LETTER_SEQ");
    expect((await api("GET", `${DEAD_LETTERS_PATH}/999999`)).body.error.code).toBe("E_DEAD_LETTER_NOT_FOUND");
    expect((await api("POST", `${DEAD_LETTERS_PATH}/999999/replay`)).status).toBe(404);
    expect((await api("GET", `${DEAD_LETTERS_PATH}?limit=x`)).body.error.code).toBe("E_INVALID_QUERY");
  });

  it("is DeadLetterService on gRPC", async () => {
    const jobId = newJobId();
    const subject = subjectFor("manifest.checked", jobId);
    await nats.js.publish(subject, new TextEncoder().encode("not even json"));
    const [letter] = (await waitForDeadLetters(subject, 3)).filter((d: any) => d.consumer === "chain-check");
    const client = deadLetterServiceClient(sys.statusGrpcAddress);
    const md = new grpc.Metadata();
    md.set("x-api-key", API_KEY);
    try {
      const list = await call<any>((cb) => client.listDeadLetters({ consumer: "chain-check", pageSize: 100 }, md, cb));
      expect(list.deadLetters.map((d: any) => d.seq)).toContain(String(letter.seq));
      const got = await call<any>((cb) => client.getDeadLetter({ seq: String(letter.seq) }, md, cb));
      expect(got).toMatchObject({ consumer: "chain-check", subject, reason: expect.stringMatching(/not JSON/) });
      expect(Buffer.from(got.data).toString()).toBe("not even json");
      const replayed = await call<any>((cb) => client.replayDeadLetter({ seq: String(letter.seq) }, md, cb));
      expect(replayed).toMatchObject({ deadLetter: { seq: String(letter.seq), consumer: "chain-check" }, streamSeq: expect.stringMatching(/^\d+$/) });
      const err = (await call((cb) => client.getDeadLetter({ seq: String(letter.seq) }, md, cb)).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.NOT_FOUND);
      expect(err.metadata.get("x-error-code")).toEqual(["E_DEAD_LETTER_NOT_FOUND"]);
    } finally {
      client.close();
    }
  });
});

/** Waits until `n` dead letters of `subject` are listed (through the gateway), and answers them. */
async function waitForDeadLetters(subject: string, n: number, timeoutMs = 15_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all: any[] = [];
    for (let after = 0; ; ) {
      const page = (await api("GET", `${DEAD_LETTERS_PATH}?limit=100&after=${after}`)).body;
      all.push(...page.deadLetters);
      if (page.next === null) break;
      after = page.next;
    }
    const mine = all.filter((d) => d.subject === subject);
    if (mine.length >= n) return mine;
    if (Date.now() > deadline) throw new Error(`${mine.length} of ${n} dead letters of ${subject} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
