import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, type SubmissionServiceClient } from "@veriflow/grpc";
import { IDEMPOTENCY_BUCKET, JOBS_PATH, UPLOADS_BUCKET } from "@veriflow/events";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger, type RunningService } from "@veriflow/platform";
import { getJson } from "../support/client.js";
import { submissionServiceClient, submitVerification } from "../support/grpc.js";
import { startSystem, type System } from "../support/system.js";

// Idempotency-Key on the whole system, two API keys, and a second gateway replica started
// from the same environment (records live in JetStream, not in a gateway's memory).
const KEY_A = "key-a-0123456789";
const KEY_B = "key-b-0123456789";
let sys: System;
let nats: NatsClients;
let replica: RunningService;
let grpcClient: SubmissionServiceClient;
let content: string;
let manifestURI: string;

beforeAll(async () => {
  sys = await startSystem({ API_KEYS: `${KEY_A},${KEY_B}` });
  const first = sys.services.gateway;
  replica = await sys.startService("gateway");
  sys.services.gateway = first;
  nats = await connectNats({ url: sys.nats.url, name: "idempotency-test", log: createSilentLogger() });
  grpcClient = submissionServiceClient(sys.gatewayGrpcAddress);
  content = `idempotent ${randomBytes(8).toString("hex")}`;
  manifestURI = (await sys.publish(content)).manifestUri;
});
afterAll(async () => {
  grpcClient?.close();
  await nats?.close();
  await sys?.stop();
});

interface Post {
  key?: string;
  apiKey?: string;
  file?: string;
  manifest?: string;
  registryAddress?: string;
  path?: string;
  base?: string;
}

async function post(p: Post): Promise<{ status: number; body: any; headers: Headers }> {
  const form = new FormData();
  form.append("registryAddress", p.registryAddress ?? sys.registry);
  form.append("manifestURI", p.manifest ?? manifestURI);
  form.append("file", new Blob([p.file ?? content]), "upload.bin");
  const headers: Record<string, string> = { "x-api-key": p.apiKey ?? KEY_A };
  if (p.key !== undefined) headers["idempotency-key"] = p.key;
  const res = await fetch(`${p.base ?? sys.gatewayUrl}${p.path ?? `${JOBS_PATH}/verify`}`, { method: "POST", body: form, headers });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

const auth = { "x-api-key": KEY_A };
const total = async () => (await getJson(`${sys.gatewayUrl}${JOBS_PATH}?limit=1`, auth)).body.total as number;
/** Waits until the status service has the job (the count of jobs includes it from then on). */
async function projected(jobId: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}`, auth)).status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${jobId} never projected`);
}
const bucketBytes = async () => (await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`)).state.bytes;

describe("Idempotency-Key", () => {
  it("answers the same job for the same key and request, with the original body, storing the repeat's file nowhere", async () => {
    const key = randomUUID();
    const first = await post({ key });
    expect(first.status).toBe(202);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    await projected(first.body.jobId);
    const jobs = await total();
    const bytes = await bucketBytes();
    const again = await post({ key });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("location")).toBe(first.body.pollUrl);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await total()).toBe(jobs);
    expect(await bucketBytes()).toBe(bytes);
  });

  it("answers 409 E_IDEMPOTENCY_KEY_REUSED for another file or other fields under the same key", async () => {
    const key = randomUUID();
    const first = await post({ key });
    expect(first.status).toBe(202);
    const otherFile = await post({ key, file: `${content} changed` });
    expect(otherFile.status).toBe(409);
    expect(otherFile.body.error.code).toBe("E_IDEMPOTENCY_KEY_REUSED");
    const otherField = await post({ key, manifest: `${manifestURI}?v=2` });
    expect(otherField.status).toBe(409);
    const otherType = await post({ key, path: `${JOBS_PATH}/proof` });
    expect(otherType.status).toBe(409);
    // Recorded before the next test counts the tenant's jobs (else it may count this one too).
    await projected(first.body.jobId);
  });

  it("gives two concurrent requests with one key one job", async () => {
    const key = randomUUID();
    const jobs = await total();
    const [a, b] = await Promise.all([post({ key }), post({ key })]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.jobId).toBe(b.body.jobId);
    await projected(a.body.jobId);
    expect(await total()).toBe(jobs + 1);
  });

  it("holds across gateway replicas", async () => {
    const key = randomUUID();
    const first = await post({ key });
    const onReplica = await post({ key, base: `http://127.0.0.1:${replica.port}` });
    expect(onReplica.status).toBe(202);
    expect(onReplica.body.jobId).toBe(first.body.jobId);
  });

  it("scopes keys by API key: the same key under another API key is another job", async () => {
    const key = randomUUID();
    const a = await post({ key, apiKey: KEY_A });
    const b = await post({ key, apiKey: KEY_B });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.jobId).not.toBe(a.body.jobId);
  });

  it("does not pin a failure: a refused request leaves the key free for a corrected retry", async () => {
    const key = randomUUID();
    const refused = await post({ key, registryAddress: "0x1234" });
    expect(refused.status).toBe(400);
    const retried = await post({ key });
    expect(retried.status).toBe(202);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
  });

  it("refuses a malformed key", async () => {
    const res = await post({ key: "x".repeat(256) });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("E_INVALID_IDEMPOTENCY_KEY");
  });

  it("answers a repeated synchronous request with the first one's outcome", async () => {
    const key = randomUUID();
    const first = await post({ key, path: "/api/verify" });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const again = await post({ key, path: "/api/verify" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
  });

  it("works the same over gRPC (idempotency-key metadata), across REST and gRPC", async () => {
    const key = randomUUID();
    const meta = () => {
      const m = new grpc.Metadata();
      m.set("x-api-key", KEY_A);
      m.set("idempotency-key", key);
      return m;
    };
    const send = (file: string) =>
      submitVerification(grpcClient, [{ metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri: manifestURI } }, { chunk: Buffer.from(file) }], meta());
    const first = await send(content);
    expect(first.mode).toBe("async");
    expect((await send(content)).jobId).toBe(first.jobId);
    expect((await post({ key })).body.jobId).toBe(first.jobId);
    const reused = (await send(`${content} changed`).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(reused.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(reused.metadata.get("x-error-code")).toEqual(["E_IDEMPOTENCY_KEY_REUSED"]);
  });

  it("keeps records for 24 hours at least, in a bounded bucket", async () => {
    const { config } = await nats.jsm.streams.info(`KV_${IDEMPOTENCY_BUCKET}`);
    expect(config.max_age).toBeGreaterThanOrEqual(86_400_000 * 1e6);
    expect(config.max_bytes).toBeGreaterThan(0);
  });
});
