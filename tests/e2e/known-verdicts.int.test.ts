import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm, type KV } from "@nats-io/kv";
import { afterAll, describe, expect, it } from "vitest";
import { BATCHES_PATH, DEFAULT_TENANT, JOBS_PATH, KNOWN_VERDICTS_BUCKET, type JobType } from "@veriflow/events";
import { connectNats, createKnownVerdictStore, knownVerdictKey, type KnownVerdictStore, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { deployRegistry, revokeContent, type PublishedContent } from "@veriflow/testing";
import { buildCli, runCli } from "../support/cli.js";
import { eventually, getJson, waitForJob } from "../support/client.js";
import { call, jobServiceClient, submissionServiceClient, submitBatch, submitVerification } from "../support/grpc.js";
import { systemTest } from "../support/shared-system.js";
import type { System } from "../support/system.js";

// Answer from what is known: a verification of the same content, manifest URI and registry
// already decided, with nothing changed in its registry entry since, is answered from the
// recorded verdict (result.reusedFrom, result.decidedAtBlock) without fetching the manifest,
// as a job of its own; `fresh` asks for a full run. The manifest server's request count is
// what shows a fetch was skipped. The manifest stage only points at the record; chain-check
// reads it and the chain again and completes the job (it alone may publish verdicts).
let sys: System;
let nats: NatsClients;
let known: KnownVerdictStore;
let dir: string;
systemTest.beforeAll(async ({ system }) => {
  await buildCli();
  sys = system;
  nats = await connectNats({ url: sys.nats.url, name: "known-verdicts-test", log: createSilentLogger() });
  const kv: KV = await new Kvm(nats.js).open(KNOWN_VERDICTS_BUCKET);
  known = createKnownVerdictStore(kv);
  dir = await mkdtemp(join(tmpdir(), "veriflow-known-"));
});
afterAll(async () => {
  await nats?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Submission {
  content: string;
  manifestUri: string;
  registry?: string;
  type?: JobType;
  fresh?: string;
  route?: string;
}

function formOf(s: Submission): FormData {
  const form = new FormData();
  form.append("registryAddress", s.registry ?? sys.registry);
  form.append("manifestURI", s.manifestUri);
  if (s.fresh !== undefined) form.append("fresh", s.fresh);
  form.append("file", new Blob([s.content]), "upload.txt");
  return form;
}

/** POST …/verify (or …/proof) and wait for the job's end. */
async function verified(s: Submission) {
  const res = await fetch(`${sys.gatewayUrl}${s.route ?? `${JOBS_PATH}/${s.type ?? "verify"}`}`, { method: "POST", body: formOf(s) });
  const body = (await res.json()) as { jobId: string };
  expect(res.status, JSON.stringify(body)).toBe(202);
  const job = await waitForJob(sys.gatewayUrl, body.jobId);
  expect(job.status, JSON.stringify(job)).toBe("completed");
  return job;
}

async function published(label: string): Promise<{ content: string; pub: PublishedContent }> {
  const content = `known ${label} ${randomBytes(16).toString("hex")}`;
  return { content, pub: await sys.publish(content) };
}

/** Waits until registry-watch has recorded the verdict of `jobId` for this question. */
async function recorded(pub: PublishedContent, jobId: string, opts: { manifestUri?: string; type?: JobType } = {}) {
  const question = { tenant: DEFAULT_TENANT, jobType: opts.type ?? "verify", registryAddress: sys.registry, contentHash: pub.contentHash, manifestUri: opts.manifestUri ?? pub.manifestUri };
  return eventually(`the known verdict of ${jobId} (${knownVerdictKey(question)})`, async () => {
    const v = await known.find(question);
    return v?.jobId === jobId ? v : undefined;
  }, 10_000);
}

const fetches = (pub: PublishedContent) => sys.manifests.requests(pub.manifestUri);
const eventTypes = async (jobId: string) => ((await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}/history`)).body.events as { type: string }[]).map((e) => e.type);

describe("answering from a known verdict (REST)", () => {
  it("a second identical submission is answered from the first's verdict, as its own job, without fetching the manifest", async () => {
    const { content, pub } = await published("again");
    const first = await verified({ content, manifestUri: pub.manifestUri });
    expect(first.result.status).toBe("OK");
    expect(first.result.reusedFrom).toBeUndefined();
    const record = await recorded(pub, first.id);
    expect(record.decidedAtBlock).toBe(first.result.onchain.blockNumber);
    const fetched = fetches(pub);
    expect(fetched).toBeGreaterThan(0);

    const second = await verified({ content, manifestUri: pub.manifestUri });
    expect(second.id).not.toBe(first.id);
    expect(second.result).toEqual({ ...first.result, reusedFrom: first.id, decidedAtBlock: first.result.onchain.blockNumber });
    expect(fetches(pub)).toBe(fetched);
    // The manifest stage points at the record (no fetch); chain-check, which alone states verdicts, confirms it.
    expect(await eventTypes(second.id)).toEqual(["verification.requested", "content.hashed", "manifest.checked", "verification.completed"]);

    // The synchronous route and ?wait= answer it the same way.
    const sync = await fetch(`${sys.gatewayUrl}/api/verify`, { method: "POST", body: formOf({ content, manifestUri: pub.manifestUri }) });
    const syncBody = (await sync.json()) as { mode: string; jobId: string; result: Record<string, unknown> };
    expect(sync.status, JSON.stringify(syncBody)).toBe(200);
    expect(syncBody).toMatchObject({ mode: "sync", result: { status: "OK", reusedFrom: first.id } });
    expect(syncBody.jobId).not.toBe(first.id);
    const waited = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify?wait=20`, { method: "POST", body: formOf({ content, manifestUri: pub.manifestUri }) });
    expect(((await waited.json()) as { result: { reusedFrom?: string } }).result.reusedFrom).toBe(first.id);
    expect(fetches(pub)).toBe(fetched);
  });

  it("fresh=true makes a full run (the manifest fetched again), whose verdict is then the one answered", async () => {
    const { content, pub } = await published("fresh");
    const first = await verified({ content, manifestUri: pub.manifestUri });
    await recorded(pub, first.id);
    const fetched = fetches(pub);

    const fresh = await verified({ content, manifestUri: pub.manifestUri, fresh: "true" });
    expect(fresh.result.status).toBe("OK");
    expect(fresh.result.reusedFrom).toBeUndefined();
    expect(fetches(pub)).toBe(fetched + 1);
    expect(await eventTypes(fresh.id)).toContain("manifest.checked");

    // fresh=false is the default; anything else is refused.
    await recorded(pub, fresh.id);
    const next = await verified({ content, manifestUri: pub.manifestUri, fresh: "false" });
    expect(next.result.reusedFrom).toBe(fresh.id);
    const bad = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: formOf({ content, manifestUri: pub.manifestUri, fresh: "maybe" }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("E_INVALID_FRESH");
  });

  it("a revocation on chain between the two makes the second a full run answering FAIL revoked", async () => {
    const { content, pub } = await published("revoked");
    const first = await verified({ content, manifestUri: pub.manifestUri });
    expect(first.result.status).toBe("OK");
    await recorded(pub, first.id);
    const fetched = fetches(pub);

    await revokeContent(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, pub.contentHash);
    const second = await verified({ content, manifestUri: pub.manifestUri });
    expect(second.result.status).toBe("FAIL");
    expect(second.result.reasons).toContain("revoked");
    expect(second.result.reusedFrom).toBeUndefined();
    // Its own full run (the first job's re-verification, started by the revocation, fetches too).
    expect(await eventTypes(second.id)).toContain("manifest.checked");
    expect(fetches(pub)).toBeGreaterThan(fetched);
  });

  it("another manifest URI, another registry or another job type is a question of its own: a full run", async () => {
    const { content, pub } = await published("other");
    const first = await verified({ content, manifestUri: pub.manifestUri });
    await recorded(pub, first.id);

    // The same signed manifest served at another URI: fetched there, and WARN uri_mismatch.
    const otherUri = sys.manifests.putManifest(`moved-${pub.contentHash.slice(2, 14)}`, pub.manifest);
    const moved = await verified({ content, manifestUri: otherUri });
    expect(moved.result.reusedFrom).toBeUndefined();
    expect(moved.result.reasons).toEqual(["uri_mismatch"]);
    expect(sys.manifests.requests(otherUri)).toBeGreaterThan(0);

    // Another registry, where the content is not registered.
    const fetched = fetches(pub);
    const otherRegistry = await deployRegistry(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey);
    const elsewhere = await verified({ content, manifestUri: pub.manifestUri, registry: otherRegistry });
    expect(elsewhere.result.reusedFrom).toBeUndefined();
    expect(elsewhere.result.reasons).toContain("not_registered");
    expect(fetches(pub)).toBe(fetched + 1);

    // A proof is not answered from a verification's verdict; a second proof is, from the first.
    const proof = await verified({ content, manifestUri: pub.manifestUri, type: "proof" });
    expect(proof.result.reusedFrom).toBeUndefined();
    expect(proof.result.proofVersion).toBe("veriflow.proof/1");
    await recorded(pub, proof.id, { type: "proof" });
    const again = await verified({ content, manifestUri: pub.manifestUri, type: "proof" });
    expect(again.result).toMatchObject({ reusedFrom: proof.id, proofVersion: "veriflow.proof/1", txHash: proof.result.txHash });
  });
});

describe("answering from a known verdict (batches)", () => {
  it("a batch's files are answered from known verdicts too, unless the batch asks to be fresh", async () => {
    const { content, pub } = await published("batch");
    const first = await verified({ content, manifestUri: pub.manifestUri });
    await recorded(pub, first.id);
    const batch = async (fresh?: string) => {
      const form = new FormData();
      form.append("registryAddress", sys.registry);
      if (fresh) form.append("fresh", fresh);
      for (const name of ["a.txt", "b.txt"]) form.append("file", new Blob([content]), name);
      for (let i = 0; i < 2; i++) form.append("manifestURI", pub.manifestUri);
      const res = await fetch(`${sys.gatewayUrl}${BATCHES_PATH}`, { method: "POST", body: form });
      const body = (await res.json()) as { jobs: { jobId: string }[] };
      expect(res.status, JSON.stringify(body)).toBe(202);
      return Promise.all(body.jobs.map((j) => waitForJob(sys.gatewayUrl, j.jobId)));
    };
    const fetched = fetches(pub);
    expect((await batch()).map((j) => j.result.reusedFrom)).toEqual([first.id, first.id]);
    expect(fetches(pub)).toBe(fetched);
    expect((await batch("true")).map((j) => j.result.reusedFrom)).toEqual([undefined, undefined]);
    expect(fetches(pub)).toBe(fetched + 2);
  });
});

describe("answering from a known verdict (gRPC and CLI)", () => {
  it("gRPC SubmitVerification is answered from the known verdict (Verdict.reused_from), and metadata.fresh makes a full run", async () => {
    const { content, pub } = await published("grpc");
    const first = await verified({ content, manifestUri: pub.manifestUri });
    await recorded(pub, first.id);
    const fetched = fetches(pub);
    const submissions = submissionServiceClient(sys.gatewayGrpcAddress);
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    try {
      const submitOnce = (fresh?: boolean) =>
        submitVerification(submissions, [
          { metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, manifestUri: pub.manifestUri, fileName: "upload.txt", contentType: "text/plain", ...(fresh ? { fresh } : {}) } },
          { chunk: Buffer.from(content) },
        ]);
      const reused = await submitOnce();
      await waitForJob(sys.gatewayUrl, reused.jobId);
      const job = await call<{ verdict: { reusedFrom?: string; decidedAtBlock?: string } | null; resultJson?: string }>((cb) => jobs.getJob({ jobId: reused.jobId }, cb));
      expect(job.verdict?.reusedFrom).toBe(first.id);
      expect(job.verdict?.decidedAtBlock).toBe(String(first.result.onchain.blockNumber));
      expect(JSON.parse(job.resultJson!).reusedFrom).toBe(first.id);
      expect(fetches(pub)).toBe(fetched);

      const fresh = await submitOnce(true);
      await waitForJob(sys.gatewayUrl, fresh.jobId);
      const freshJob = await call<{ verdict: { status: string; reusedFrom?: string } | null }>((cb) => jobs.getJob({ jobId: fresh.jobId }, cb));
      expect(freshJob.verdict?.status).toBe("OK");
      expect(freshJob.verdict?.reusedFrom).toBeUndefined();
      expect(fetches(pub)).toBe(fetched + 1);

      // SubmitBatch: answered from the known verdict, or afresh with metadata.fresh.
      const batchOf = async (fresh?: boolean) => {
        const answer = await submitBatch(submissions, [
          { metadata: { type: "JOB_TYPE_VERIFY", registryAddress: sys.registry, ...(fresh ? { fresh } : {}) } },
          { file: { fileName: "a.txt", manifestUri: pub.manifestUri, contentType: "text/plain" } },
          { chunk: Buffer.from(content) },
        ]);
        return (await waitForJob(sys.gatewayUrl, answer.jobs[0]!.jobId)).result.reusedFrom as string | undefined;
      };
      // From the first job's verdict, or the fresh run's once registry-watch recorded it (same block: the later record wins).
      expect([first.id, fresh.jobId]).toContain(await batchOf());
      expect(await batchOf(true)).toBeUndefined();
      expect(fetches(pub)).toBe(fetched + 2);
    } finally {
      submissions.close();
      jobs.close();
    }
  });

  it("the CLI prints the job a verdict was answered from, and --fresh makes a full run", async () => {
    const { content, pub } = await published("cli");
    const file = join(dir, "cli.txt");
    await writeFile(file, content);
    const first = await verified({ content, manifestUri: pub.manifestUri });
    await recorded(pub, first.id);
    const fetched = fetches(pub);
    const args = ["verify", file, "--manifest", pub.manifestUri, "--registry", sys.registry, "--wait"];
    const env = { VERIFLOW_URL: sys.gatewayUrl };

    const reused = await runCli(args, env, dir);
    expect(reused.code, reused.stderr).toBe(0);
    expect(reused.stdout).toContain(`answered from   job ${first.id}, decided at block ${first.result.onchain.blockNumber}`);
    const asJson = await runCli([...args, "--json"], env, dir);
    expect(JSON.parse(asJson.stdout).result.reusedFrom).toBe(first.id);
    expect(fetches(pub)).toBe(fetched);

    const fresh = await runCli([...args, "--fresh", "--json"], env, dir);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout).result.reusedFrom).toBeUndefined();
    expect(fetches(pub)).toBe(fetched + 1);
  });
});
