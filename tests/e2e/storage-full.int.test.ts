import { randomBytes } from "node:crypto";
import { Objm } from "@nats-io/obj";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, type SubmissionServiceClient } from "@veriflow/grpc";
import { JOBS_PATH, UPLOADS_BUCKET } from "@veriflow/events";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { eventually, getJson, submit, waitForJob } from "../support/client.js";
import { submissionServiceClient, submitVerification } from "../support/grpc.js";
import { startSystem, type System } from "../support/system.js";

// Full stores on the whole system, with bounds small enough to reach: an uploads bucket of
// 1 MiB and an events stream of 256 KiB. Nothing accepted may be lost, nothing may hang.
const KiB = 1024;
let sys: System;
let nats: NatsClients;
let grpcClient: SubmissionServiceClient;
let manifestURI: string;

beforeAll(async () => {
  sys = await startSystem({ UPLOADS_MAX_BYTES: String(1024 * KiB), GATEWAY_MAX_UPLOAD_BYTES: String(512 * KiB), STREAM_MAX_BYTES: String(256 * KiB) });
  nats = await connectNats({ url: sys.nats.url, name: "storage-full-test", log: createSilentLogger() });
  grpcClient = submissionServiceClient(sys.gatewayGrpcAddress);
  manifestURI = (await sys.publish(`storage ${randomBytes(8).toString("hex")}`)).manifestUri;
});
afterAll(async () => {
  grpcClient?.close();
  await nats?.close();
  await sys?.stop();
});

const post = (file: Uint8Array | string) => submit(sys.gatewayUrl, { file, registryAddress: sys.registry, manifestURI });
const bucketBytes = async () => (await nats.jsm.streams.info(`OBJ_${UPLOADS_BUCKET}`)).state.bytes;

/** Every accepted job reaches `completed` (a FAIL verdict is a completed job): none lost, none stuck. */
async function expectAllCompleted(jobIds: string[]): Promise<void> {
  for (const jobId of jobIds) expect((await waitForJob(sys.gatewayUrl, jobId, 30_000)).status).toBe("completed");
}

describe("a job whose upload is gone", () => {
  it("fails once, with E_UPLOAD_NOT_FOUND, instead of retrying or hanging", async () => {
    await sys.services.hashing.stop();
    const accepted = await post(randomBytes(4 * KiB));
    expect(accepted.status).toBe(202);
    const bucket = await new Objm(nats.js).open(UPLOADS_BUCKET);
    await bucket.delete(accepted.body.jobId); // as the bucket's max age would
    await sys.startService("hashing");
    const job = await waitForJob(sys.gatewayUrl, accepted.body.jobId);
    expect(job).toMatchObject({ status: "failed", failure: { stage: "hashing", code: "E_UPLOAD_NOT_FOUND", attempts: 1 } });
    const history = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${accepted.body.jobId}/history`);
    expect(history.body.events.map((e: { type: string }) => e.type)).toEqual(["verification.requested", "verification.failed"]);
  });
});

describe("a full uploads bucket", () => {
  it("answers 507 E_STORAGE_FULL with Retry-After (REST and gRPC), keeps no partial upload, and takes uploads again once hashing frees room", async () => {
    await sys.services.hashing.stop();
    const accepted: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(randomBytes(300 * KiB));
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      accepted.push(res.body.jobId);
    }
    const held = await bucketBytes();

    const res = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: formOf(randomBytes(300 * KiB)) });
    expect(res.status).toBe(507);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await res.json()) as any).error.code).toBe("E_STORAGE_FULL");

    // gRPC declares no length: the put itself runs into the bound, and its chunks are purged.
    const rpc = (await submitVerification(grpcClient, [
      { metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri: manifestURI } },
      { chunk: randomBytes(300 * KiB) },
    ]).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(rpc.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(rpc.metadata.get("x-error-code")).toEqual(["E_STORAGE_FULL"]);
    expect(Number(rpc.metadata.get("retry-after")[0])).toBeGreaterThanOrEqual(1);
    expect(await bucketBytes()).toBeLessThanOrEqual(held + KiB);

    await sys.startService("hashing");
    await expectAllCompleted(accepted);
    const again = await eventually("an upload accepted again", async () => {
      const r = await post(randomBytes(300 * KiB));
      return r.status === 202 ? r : undefined;
    });
    await expectAllCompleted([again.body.jobId]);
  });
});

describe("an events stream nearly full of unprocessed events", () => {
  it("answers 507 E_STORAGE_FULL before the stream would discard events not yet processed; every accepted job completes", async () => {
    await sys.services.hashing.stop();
    const accepted: string[] = [];
    let refused: { status: number; body: any } | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = await post(`tiny ${i}`);
      if (res.status === 202) accepted.push(res.body.jobId);
      else refused = res;
    }
    expect(refused?.status).toBe(507);
    expect(refused?.body.error).toMatchObject({ code: "E_STORAGE_FULL", message: expect.stringMatching(/events stream/) });
    // 80% of 256 KiB for the waiting requests and the events their jobs will publish (2 KiB each at least).
    expect(accepted.length).toBeGreaterThan(10);
    expect(accepted.length).toBeLessThan(60);

    await sys.startService("hashing");
    await expectAllCompleted(accepted);
    const again = await eventually("a submission accepted again", async () => {
      const r = await post("after the drain");
      return r.status === 202 ? r : undefined;
    });
    await expectAllCompleted([again.body.jobId]);
  });
});

function formOf(file: Uint8Array): FormData {
  const f = new FormData();
  f.append("registryAddress", sys.registry);
  f.append("manifestURI", manifestURI);
  f.append("file", new Blob([Buffer.from(file)]), "upload.bin");
  return f;
}
