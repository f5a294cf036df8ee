import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STREAM_NAME, subjectFor, type JobPriority } from "@veriflow/events";
import { grpc } from "@veriflow/grpc";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { buildCli, runCli } from "../support/cli.js";
import { waitForJob } from "../support/client.js";
import { call, jobServiceClient, submissionServiceClient, submitVerification } from "../support/grpc.js";
import { asKey, createKey } from "../support/keys.js";
import { startSystem, type System } from "../support/system.js";

// Priorities on the whole system: a job's class is settled at the gateway from what it asked
// and what its key allows, travels on its own subjects and consumers, and shows on the job.
const BOOT = "priority-test-bootstrap-key";
let sys: System;
let nats: NatsClients;
/** A key with submit and read; one that also holds the `interactive` scope. */
let plain: string;
let raised: string;

beforeAll(async () => {
  sys = await startSystem({ API_KEYS: BOOT });
  nats = await connectNats({ url: sys.nats.url, name: "priority-test", log: createSilentLogger() });
  plain = (await createKey(sys.gatewayUrl, BOOT, "prio", ["submit", "read"])).key;
  raised = (await createKey(sys.gatewayUrl, BOOT, "prio", ["submit", "read", "interactive"])).key;
});
afterAll(async () => {
  await nats?.close();
  await sys?.stop();
});

async function content(): Promise<{ file: string; manifestURI: string }> {
  const file = `priority ${randomBytes(16).toString("hex")}`;
  return { file, manifestURI: (await sys.publish(file)).manifestUri };
}

/** Submits over REST (with `priority` when given) and answers the status and body. */
async function submitRest(key: string, opts: { type?: "verify" | "proof"; priority?: string } = {}) {
  const c = await content();
  const form = new FormData();
  form.append("registryAddress", sys.registry);
  form.append("manifestURI", c.manifestURI);
  if (opts.priority !== undefined) form.append("priority", opts.priority);
  form.append("file", new Blob([c.file]), "upload.bin");
  const res = await fetch(`${sys.gatewayUrl}/api/verification-jobs/${opts.type ?? "verify"}`, { method: "POST", body: form, headers: asKey(key) });
  return { status: res.status, body: (await res.json()) as any };
}

/** Whether the job's request is stored on its class's subject (and not on the other's). */
async function requestSubjectOf(jobId: string): Promise<JobPriority | null> {
  for (const p of ["interactive", "bulk"] as const) {
    const found = await nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor("verification.requested", jobId, p) }).catch(() => null);
    if (found) return p;
  }
  return null;
}

describe("priorities over REST", () => {
  it("runs a verification as interactive and a proof as bulk by default, each through its own subjects, to a verdict", async () => {
    const verify = await submitRest(plain);
    const proof = await submitRest(plain, { type: "proof" });
    expect([verify.status, proof.status]).toEqual([202, 202]);
    const [v, p] = await Promise.all([waitForJob(sys.gatewayUrl, verify.body.jobId, 30_000, asKey(plain)), waitForJob(sys.gatewayUrl, proof.body.jobId, 30_000, asKey(plain))]);
    expect(v).toMatchObject({ status: "completed", priority: "interactive", result: { status: "OK" } });
    expect(p).toMatchObject({ status: "completed", priority: "bulk", result: { status: "OK" } });
    expect(await requestSubjectOf(verify.body.jobId)).toBe("interactive");
    expect(await requestSubjectOf(proof.body.jobId)).toBe("bulk");
  });

  it("lets any key lower its work to bulk, and only a key with the interactive scope raise a proof (403 E_PRIORITY_NOT_ALLOWED)", async () => {
    const lowered = await submitRest(plain, { priority: "bulk" });
    expect(lowered.status).toBe(202);
    expect(await waitForJob(sys.gatewayUrl, lowered.body.jobId, 30_000, asKey(plain))).toMatchObject({ status: "completed", priority: "bulk" });

    const refused = await submitRest(plain, { type: "proof", priority: "interactive" });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("E_PRIORITY_NOT_ALLOWED");

    const allowed = await submitRest(raised, { type: "proof", priority: "interactive" });
    expect(allowed.status).toBe(202);
    expect(await waitForJob(sys.gatewayUrl, allowed.body.jobId, 30_000, asKey(raised))).toMatchObject({ status: "completed", priority: "interactive" });
  });

  it("refuses a priority that is not a class with 400 E_INVALID_PRIORITY", async () => {
    const bad = await submitRest(plain, { priority: "urgent" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("E_INVALID_PRIORITY");
  });

  it("answers a waiting request as interactive work, even a proof", async () => {
    const c = await content();
    const form = new FormData();
    form.append("registryAddress", sys.registry);
    form.append("manifestURI", c.manifestURI);
    form.append("file", new Blob([c.file]), "upload.bin");
    const res = await fetch(`${sys.gatewayUrl}/api/proof`, { method: "POST", body: form, headers: asKey(plain) });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(await requestSubjectOf(body.jobId)).toBe("interactive");
  });
});

describe("priorities over gRPC and the CLI", () => {
  // Building the CLI (in a clean clone, every library it uses too) is set-up: it gets set-up's time, not the test's.
  beforeAll(buildCli);
  it("takes the metadata's priority, and refuses a raised proof with PERMISSION_DENIED E_PRIORITY_NOT_ALLOWED", async () => {
    const submissions = submissionServiceClient(sys.gatewayGrpcAddress);
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    const md = (key: string) => {
      const m = new grpc.Metadata();
      m.set("x-api-key", key);
      return m;
    };
    try {
      const c = await content();
      const meta = { registryAddress: sys.registry, manifestUri: c.manifestURI, fileName: "upload.bin", contentType: "application/octet-stream" };
      const accepted = await submitVerification(submissions, [{ metadata: { ...meta, type: "JOB_TYPE_VERIFY", priority: "bulk" } }, { chunk: Buffer.from(c.file) }], md(plain));
      await waitForJob(sys.gatewayUrl, accepted.jobId, 30_000, asKey(plain));
      const job = await call<any>((cb) => jobs.getJob({ jobId: accepted.jobId }, md(plain), cb));
      expect(job).toMatchObject({ priority: "bulk", status: "JOB_STATUS_COMPLETED" });

      const refused = await submitVerification(submissions, [{ metadata: { ...meta, type: "JOB_TYPE_PROOF", priority: "interactive" } }, { chunk: Buffer.from(c.file) }], md(plain)).catch(
        (e: grpc.ServiceError) => e,
      );
      expect(refused).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      expect((refused as grpc.ServiceError).metadata.get("x-error-code")).toEqual(["E_PRIORITY_NOT_ALLOWED"]);
    } finally {
      submissions.close();
      jobs.close();
    }
  });

  it("veriflow verify --priority bulk --wait shows the job's class", async () => {
    const dir = await mkdtemp(join(tmpdir(), "veriflow-priority-"));
    try {
      const c = await content();
      await writeFile(join(dir, "f.txt"), c.file);
      const env = { VERIFLOW_URL: sys.gatewayUrl, VERIFLOW_API_KEY: plain };
      const run = await runCli(["verify", "f.txt", "--manifest", c.manifestURI, "--registry", sys.registry, "--priority", "bulk", "--wait", "--json"], env, dir);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ status: "completed", priority: "bulk" });
      const human = await runCli(["verify", "f.txt", "--manifest", c.manifestURI, "--registry", sys.registry, "--wait"], env, dir);
      expect(human.stdout).toMatch(/priority\s+interactive/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
