import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCHES_PATH, JOBS_PATH } from "@veriflow/events";
import { verifyWebhookSignature } from "../../services/webhooks/src/signature.js";
import { eventually, getJson } from "../support/client.js";
import { startReceiver, type Receiver } from "../support/receiver.js";
import { startSystem, type System } from "../support/system.js";
import { buildCli, runCli } from "../support/cli.js";
import { createSilentLogger } from "@veriflow/platform";
import { loadConfig as loadStatusConfig } from "../../services/status/src/config.js";
import { startStatusService } from "../../services/status/src/service.js";
import { call, jobServiceClient, submissionServiceClient, submitBatch as submitBatchGrpc } from "../support/grpc.js";
import { grpc } from "@veriflow/grpc";

const grpcStatus = grpc.status;

// Batches end to end on real servers: POST /api/verification-batches, the batch's record and
// counts in status, and its one batch.completed webhook. Small limits, so they can be crossed.
const MAX_FILES = 5;
const MAX_UPLOAD = 64 * 1024;
let sys: System;
let receiver: Receiver;

beforeAll(async () => {
  sys = await startSystem({ GATEWAY_MAX_BATCH_FILES: String(MAX_FILES), GATEWAY_MAX_UPLOAD_BYTES: String(MAX_UPLOAD), GATEWAY_MAX_BATCH_BYTES: String(4 * MAX_UPLOAD) });
  receiver = await startReceiver([200]);
});
afterAll(async () => {
  await receiver?.close();
  await sys?.stop();
});

interface Part {
  content: string | Uint8Array;
  name: string;
  manifestUri?: string;
}

async function published(label: string): Promise<Part> {
  const content = `batch ${label} ${randomBytes(12).toString("hex")}`;
  const { manifestUri } = await sys.publish(content);
  return { content, name: `${label}.txt`, manifestUri };
}

async function submitBatch(parts: Part[], extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append("registryAddress", sys.registry);
  for (const [k, v] of Object.entries(extra)) form.append(k, v);
  for (const p of parts) form.append("file", new Blob([p.content]), p.name);
  for (const p of parts) if (p.manifestUri !== undefined) form.append("manifestURI", p.manifestUri);
  const res = await fetch(`${sys.gatewayUrl}${BATCHES_PATH}`, { method: "POST", body: form, headers });
  return { status: res.status, body: (await res.json()) as any };
}

describe("POST /api/verification-batches", () => {
  it("accepts the good files, rejects a bad part with its code, counts the batch and calls back once when done", async () => {
    const parts = [await published("a"), { content: randomBytes(MAX_UPLOAD + 1), name: "big.bin", manifestUri: "https://example.com/m.json" }, await published("c"), await published("d")];
    const res = await submitBatch(parts, { callbackUrl: receiver.url });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const { batchId, jobs, rejected } = res.body;
    expect(jobs.map((j: any) => j.fileName)).toEqual(["a.txt", "c.txt", "d.txt"]);
    expect(rejected).toEqual([{ index: 1, fileName: "big.bin", code: "E_FILE_TOO_LARGE", message: expect.stringContaining(`${MAX_UPLOAD}`) }]);

    // Every job carries the batch and is bulk work.
    const history = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobs[0].jobId}/history`);
    expect(history.body.events[0].data.request).toMatchObject({ batchId, priority: "bulk", callbackUrl: null });

    const done = await eventually("the batch done", async () => {
      const b = await getJson(`${sys.gatewayUrl}${BATCHES_PATH}/${batchId}`);
      return b.status === 200 && b.body.done ? b.body : undefined;
    });
    expect(done).toMatchObject({ batchId, total: 3, rejected: 1, counts: { queued: 0, processing: 0, completed: 3, failed: 0 }, verdicts: { OK: 3, WARN: 0, FAIL: 0 } });
    expect(done.jobs.map((j: any) => j.jobId).sort()).toEqual(jobs.map((j: any) => j.jobId).sort());
    const page = await getJson(`${sys.gatewayUrl}${BATCHES_PATH}/${batchId}?limit=2&offset=2`);
    expect(page.body.jobs).toHaveLength(1);

    const [hook] = await eventually("the batch webhook", async () => (receiver.requests.length > 0 ? receiver.requests : undefined));
    expect(verifyWebhookSignature(sys.env.WEBHOOK_SIGNING_SECRET!, hook!.headers, hook!.body)).toBe(true);
    const envelope = JSON.parse(hook!.body);
    expect(envelope).toMatchObject({ type: "batch.completed", correlationId: batchId, data: { batchId, total: 3, completed: 3, failed: 0, verdicts: { OK: 3, WARN: 0, FAIL: 0 } } });
    // Exactly once: nothing else arrives for it.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.requests.filter((r) => JSON.parse(r.body).data.batchId === batchId)).toHaveLength(1);
  });

  it("publishes batch.completed once with two status replicas projecting the batch's jobs", async () => {
    // A second replica on the same durable consumer (its own ports): the jobs' endings are split between them.
    const second = await startStatusService(loadStatusConfig({ ...sys.env, STATUS_PORT: "0", STATUS_GRPC_PORT: "0", OPS_PORT: "0" }), createSilentLogger());
    const hooks = await startReceiver([200]);
    try {
      const parts: Part[] = [];
      for (const label of ["r1", "r2", "r3", "r4", "r5"]) parts.push(await published(label)); // one registration at a time (one signer's nonce)
      const res = await submitBatch(parts, { callbackUrl: hooks.url });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const { batchId } = res.body;
      await eventually("the batch webhook", async () => (hooks.requests.length > 0 ? true : undefined));
      await new Promise((r) => setTimeout(r, 1500));
      expect(hooks.requests.map((r) => JSON.parse(r.body).type)).toEqual(["batch.completed"]);
      const batch = await getJson(`${sys.gatewayUrl}${BATCHES_PATH}/${batchId}`);
      expect(batch.body).toMatchObject({ done: true, total: 5, counts: { completed: 5 } });
    } finally {
      await hooks.close();
      await second.stop();
    }
  });

  it("rejects a file without its manifestURI and keeps the others", async () => {
    const good = await published("g");
    const res = await submitBatch([good, { content: "no manifest", name: "orphan.txt" }]);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.jobs).toHaveLength(1);
    expect(res.body.rejected).toMatchObject([{ index: 1, fileName: "orphan.txt", code: "E_MANIFEST_URI_REQUIRED" }]);
  });

  it("answers 400 E_BATCH_REJECTED, listing each reason, when no file is good", async () => {
    const res = await submitBatch([{ content: "x", name: "x.txt", manifestUri: "ftp://nope" }]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("E_BATCH_REJECTED");
    expect(res.body.error.details.rejected).toMatchObject([{ index: 0, code: "E_INVALID_MANIFEST_URI" }]);
  });

  it("answers 413 past the batch's file count, 400 for an empty batch", async () => {
    const many = Array.from({ length: MAX_FILES + 1 }, (_, i) => ({ content: `f${i}`, name: `f${i}.txt`, manifestUri: "https://example.com/m.json" }));
    const res = await submitBatch(many);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("E_BATCH_TOO_MANY_FILES");
    const empty = await submitBatch([]);
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe("E_BATCH_EMPTY");
  });

  it("answers the same batch for a repeated Idempotency-Key, 409 for another request under it", async () => {
    const parts = [await published("i1"), await published("i2")];
    const key = { "idempotency-key": `batch-${randomBytes(8).toString("hex")}` };
    const first = await submitBatch(parts, {}, key);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const again = await submitBatch(parts, {}, key);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    const other = await submitBatch([parts[0]!], {}, key);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("E_IDEMPOTENCY_KEY_REUSED");
  });

  it("answers 404 for an unknown batch and 400 for a malformed id", async () => {
    const missing = await getJson(`${sys.gatewayUrl}${BATCHES_PATH}/00000000-0000-4000-8000-000000000000`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("E_BATCH_NOT_FOUND");
    const bad = await getJson(`${sys.gatewayUrl}${BATCHES_PATH}/not-a-uuid`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("E_INVALID_BATCH_ID");
  });
});

describe("gRPC SubmitBatch and GetBatch", () => {
  it("queues a job per file, rejects a file without a manifest_uri, and reads the batch when done", async () => {
    const submissions = submissionServiceClient(sys.gatewayGrpcAddress);
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    try {
      const a = await published("ga");
      const b = await published("gb");
      const answer = await submitBatchGrpc(submissions, [
        { metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry } },
        { file: { fileName: a.name, manifestUri: a.manifestUri!, contentType: "text/plain" } },
        { chunk: Buffer.from(String(a.content).slice(0, 10)) },
        { chunk: Buffer.from(String(a.content).slice(10)) },
        { file: { fileName: "lost.txt", manifestUri: "" } },
        { chunk: Buffer.from("no manifest") },
        { file: { fileName: b.name, manifestUri: b.manifestUri! } },
        { chunk: Buffer.from(String(b.content)) },
      ]);
      expect(answer.jobs.map((j) => j.fileName)).toEqual(["ga.txt", "gb.txt"]);
      expect(answer.rejected).toMatchObject([{ index: 1, fileName: "lost.txt", code: "E_MANIFEST_URI_REQUIRED" }]);

      const batch = await eventually("the batch done", async () => {
        const got = await call<any>((cb) => jobs.getBatch({ batchId: answer.batchId }, cb)).catch((err: grpc.ServiceError) => {
          if (err.code === grpcStatus.NOT_FOUND) return undefined; // NOT_FOUND until batch.submitted is projected
          throw err;
        });
        return got?.done ? got : undefined;
      });
      expect(batch).toMatchObject({ batchId: answer.batchId, total: 2, rejected: 1, completed: 2, failed: 0, verdicts: { ok: 2, warn: 0, fail: 0 } });
      expect(batch.jobs).toHaveLength(2);

      const refused = await submitBatchGrpc(submissions, [{ metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry } }]).catch((e: grpc.ServiceError) => e);
      expect((refused as grpc.ServiceError).code).toBe(grpcStatus.INVALID_ARGUMENT); // E_BATCH_EMPTY
    } finally {
      submissions.close();
      jobs.close();
    }
  });
});

describe("veriflow verify <dir> --manifest-map", () => {
  // Building the CLI (in a clean clone, every library it uses too) is set-up: it gets set-up's time, not the test's.
  beforeAll(buildCli);
  it("sends the folder as batches, shows one progress, prints a summary and exits with the worst verdict", async () => {
    const dir = await mkdtemp(join(tmpdir(), "veriflow-batch-"));
    try {
      const files = join(dir, "files");
      await mkdir(files);
      const parts = [await published("one"), await published("two"), await published("three")];
      const map: Record<string, string> = {};
      for (const p of parts) {
        await writeFile(join(files, p.name), p.content);
        map[p.name] = p.manifestUri!;
      }
      // A fourth file signed for other content: a FAIL verdict (hash_mismatch).
      await writeFile(join(files, "forged.txt"), "not what the manifest signed");
      map["forged.txt"] = parts[0]!.manifestUri!;
      await writeFile(join(dir, "map.json"), JSON.stringify(map));

      const run = await runCli(["verify", files, "--manifest-map", join(dir, "map.json"), "--registry", sys.registry, "--batch-size", "3"], { VERIFLOW_URL: sys.gatewayUrl });
      expect(run.code, run.stderr).toBe(1); // FAIL verdict, no failed job
      expect(run.stderr).toContain("4 of 4 files queued in 2 batches");
      expect(run.stderr).toMatch(/progress 100% completed: 4 of 4 jobs ended/);
      const lines = run.stdout.trim().split("\n");
      expect(lines[0]).toMatch(/^file\s+job\s+status\s+verdict$/);
      expect(lines.filter((l) => /\bcompleted\s+OK$/.test(l))).toHaveLength(3);
      expect(lines.find((l) => l.startsWith("forged.txt"))).toMatch(/completed\s+FAIL$/);
      expect(lines.at(-1)).toBe("4 files: 1 FAIL, 3 OK");

      // A file the map does not name: a usage error before anything is sent.
      await writeFile(join(files, "stray.bin"), "x");
      const unmapped = await runCli(["verify", files, "--manifest-map", join(dir, "map.json"), "--registry", sys.registry], { VERIFLOW_URL: sys.gatewayUrl });
      expect(unmapped.code).toBe(2);
      expect(unmapped.stderr).toContain("stray.bin");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
