import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm } from "@nats-io/kv";
import { BATCHES_PATH, DEAD_LETTERS_PATH, DEFAULT_TENANT, JOBS_PATH, KNOWN_VERDICTS_BUCKET, PIPELINE_PATH, newJobId, subjectFor, subjectsOf } from "@veriflow/events";
import { connectNats, createKnownVerdictStore, type NatsClients } from "@veriflow/nats";
import { revokeContent } from "@veriflow/testing";
import { createSilentLogger } from "@veriflow/platform";
import { natsUserEnv } from "../../deploy/local/src/nats-users.js";
import { startSubscriber } from "../../examples/completion-subscriber/src/subscriber.js";
import { eventually, getJson, submit, waitForJob } from "../support/client.js";
import { startSystem, type System } from "../support/system.js";

// The whole system as docker-compose.yml runs it: nats-server with the generated
// deploy/nats/nats-server.conf, each service logged in as its own user. Every path that
// publishes, subscribes or calls the JetStream API on another's behalf is taken once, and the
// server must have refused nothing.
let sys: System;
let admin: NatsClients;

beforeAll(async () => {
  sys = await startSystem({}, { natsUsers: true });
  const { NATS_USER, NATS_PASSWORD } = natsUserEnv("admin", sys.natsPasswords!);
  admin = await connectNats({ url: sys.nats.url, auth: { kind: "password", user: NATS_USER, password: NATS_PASSWORD }, name: "nats-users-e2e", log: createSilentLogger() });
});
afterAll(async () => {
  await admin?.close();
  await sys?.stop();
});

const uniqueContent = (label: string, bytes = 16) => `${label} ${randomBytes(bytes).toString("hex")}`;

describe("the system with one NATS user per service", () => {
  it("verifies a job, a large upload among them (read by hashing as it is stored, then the object store's ordered consumer)", async () => {
    for (const content of [uniqueContent("small"), uniqueContent("large", 1024 * 1024)]) {
      const { manifestUri } = await sys.publish(content);
      const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri });
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
      expect(await waitForJob(sys.gatewayUrl, accepted.body.jobId)).toMatchObject({ status: "completed", result: { status: "OK" } });
    }
    // The large one was read as it was stored: the gateway's announcement reached the hashing user.
    const metrics = await (await fetch(`http://127.0.0.1:${sys.services.hashing.opsPort}/metrics`)).text();
    expect(metrics).toMatch(/^veriflow_upload_follows_total\{outcome="taken"\} 1$/m);
  });

  it("answers synchronously (the gateway hears the outcome) and honours an Idempotency-Key (its bucket)", async () => {
    const content = uniqueContent("sync");
    const { manifestUri } = await sys.publish(content);
    const form = () => {
      const f = new FormData();
      f.append("registryAddress", sys.registry);
      f.append("manifestURI", manifestUri);
      f.append("file", new Blob([content]), "sync.txt");
      return f;
    };
    const headers = { "idempotency-key": `key-${newJobId()}` };
    const first = await fetch(`${sys.gatewayUrl}/api/verify`, { method: "POST", body: form(), headers });
    expect(first.status).toBe(200);
    const again = await fetch(`${sys.gatewayUrl}/api/verify`, { method: "POST", body: form(), headers });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
  });

  it("retries a failed job: status re-publishes the input of the stage that gave up", async () => {
    const content = uniqueContent("retry");
    const { manifestUri } = await sys.publish(content);
    sys.manifests.failNext(manifestUri, 1, 404);
    const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri });
    const jobId = accepted.body.jobId as string;
    expect(await waitForJob(sys.gatewayUrl, jobId)).toMatchObject({ status: "failed", failure: { stage: "manifest" } });
    const retried = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}/retry`, { method: "POST" });
    expect(retried.status).toBe(202);
    await eventually("run 2 completed", async () => {
      const { body } = await getJson(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}`);
      return body.run === 2 && body.status === "completed" ? body : undefined;
    });
  });

  it("sets aside what it cannot read and replays it: status publishes on the original subject", async () => {
    const subject = subjectFor("content.hashed", newJobId());
    await admin.js.publish(subject, new TextEncoder().encode('{"not": "an event"}'));
    const letter = await eventually("the manifest stage's dead letter", async () => {
      const { body } = await getJson(`${sys.gatewayUrl}${DEAD_LETTERS_PATH}?consumer=manifest&limit=100`);
      return (body.deadLetters as { seq: number; subject: string }[]).find((d) => d.subject === subject);
    });
    const replayed = await fetch(`${sys.gatewayUrl}${DEAD_LETTERS_PATH}/${letter.seq}/replay`, { method: "POST" });
    expect(replayed.status).toBe(202);
  });

  it("answers the pipeline view: status reads every pipeline consumer's info and the dead letters' count", async () => {
    const { status, body } = await getJson(`${sys.gatewayUrl}${PIPELINE_PATH}`);
    expect(status).toBe(200);
    expect(body.streamAvailable).toBe(true);
    expect(body.consumers.map((c: { durable: string; exists: boolean }) => [c.durable, c.exists])).toEqual([
      ["hashing", true],
      ["hashing-bulk", true],
      ["manifest", true],
      ["manifest-bulk", true],
      ["chain-check", true],
      ["chain-check-bulk", true],
      ["status-projection", true],
      ["webhooks", true],
      ["registry-watch", true],
    ]);
    expect(body.deadLetters.total).toEqual(expect.any(Number));
  });

  it("lets the example completion subscriber, logged in as subscriber, hear the completions (docs/subscribing.md)", async () => {
    const heard: string[] = [];
    const { NATS_USER, NATS_PASSWORD } = natsUserEnv("subscriber", sys.natsPasswords!);
    const subscriber = await startSubscriber({
      natsUrl: sys.nats.url,
      user: NATS_USER,
      password: NATS_PASSWORD,
      durable: "e2e-completions",
      filterSubject: subjectsOf("verification.completed"),
      onEvent: (event) => void heard.push(event.correlationId),
    });
    try {
      const content = uniqueContent("subscribed");
      const { manifestUri } = await sys.publish(content);
      const { body } = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri });
      await eventually("the subscriber hears the job", async () => (heard.includes(body.jobId as string) ? true : undefined));
    } finally {
      await subscriber.stop();
    }
  });

  it("records a batch and completes it: the gateway publishes batch.submitted, status batch.completed", async () => {
    const content = uniqueContent("batched");
    const { manifestUri } = await sys.publish(content);
    const form = new FormData();
    form.append("registryAddress", sys.registry);
    form.append("file", new Blob([content]), "batched.txt");
    form.append("manifestURI", manifestUri);
    const res = await fetch(`${sys.gatewayUrl}${BATCHES_PATH}`, { method: "POST", body: form });
    expect(res.status).toBe(202);
    const { batchId } = (await res.json()) as { batchId: string };
    await eventually("the batch done", async () => ((await getJson(`${sys.gatewayUrl}${BATCHES_PATH}/${batchId}`)).body.done === true ? true : undefined));
    const completed = await admin.jsm.streams.getMessage("VERIFLOW", { last_by_subj: subjectFor("batch.completed", batchId) });
    expect(completed?.json<{ data: { batchId: string } }>().data.batchId).toBe(batchId);
  });

  it("answers from a known verdict: registry-watch records it, the manifest stage points at it, chain-check reads and confirms it, a revocation makes registry-watch forget it", async () => {
    const known = createKnownVerdictStore(await new Kvm(admin.js).open(KNOWN_VERDICTS_BUCKET));
    const content = uniqueContent("known");
    const { manifestUri, contentHash } = await sys.publish(content);
    const job = async () => waitForJob(sys.gatewayUrl, (await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri })).body.jobId);
    const first = await job();
    const question = { tenant: DEFAULT_TENANT, jobType: "verify" as const, registryAddress: sys.registry, contentHash, manifestUri };
    await eventually("the recorded verdict", async () => ((await known.find(question))?.jobId === first.id ? true : undefined), 10_000);
    expect((await job()).result.reusedFrom).toBe(first.id);
    await revokeContent(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, contentHash);
    // Forgotten, then the re-verification's FAIL recorded in its place (both by registry-watch).
    await eventually("the revoked verdict", async () => ((await known.find(question))?.result.status === "FAIL" ? true : undefined), 15_000);
  });

  it("with no permission refused on the way", () => {
    expect(sys.nats.errors().filter((line) => /violation/i.test(line))).toEqual([]);
  });
});
