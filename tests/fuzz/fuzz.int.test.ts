import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEAD_LETTER_STREAM, JOBS_PATH, stageConsuming, subjectFor } from "@veriflow/events";
import { grpc, loadStatusProtos, loadSubmissionServiceProto } from "@veriflow/grpc";
import { connectNats, findJobEnding, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { getJson, submit, waitForJob } from "../support/client.js";
import { startSystem, type System } from "../support/system.js";
import { judgeGrpc, judgeRest } from "./support/answer-rules.js";
import { callRaw, fuzzedMetadata, methodsOf, type GrpcMethod } from "./support/grpc-calls.js";
import { hostileString } from "./support/hostile-values.js";
import { deadLettersAfter, durablesSeeing, storeBystanderUploads, waitForDrain } from "./support/pipeline-checks.js";
import { fuzzedPipelineMessage, pipelineEventTypes, type PipelineMessage } from "./support/pipeline-messages.js";
import { createMessageEncoder } from "./support/protobuf-messages.js";
import { createRandom, loadFuzzSettings } from "./support/random.js";
import { exchange } from "./support/raw-exchange.js";
import { fuzzedRequest, type KnownIds } from "./support/rest-requests.js";
import { createTally, inPool } from "./support/tally.js";

// Hostile input on every surface of the running system: every REST route of every service
// (read from their routers), every gRPC method (read from the loaded protos), every pipeline
// subject (read from the pipeline descriptor). The rules: a client error with a catalog code,
// never a server error, never silence; bad events dead-lettered or handled; no job left
// unfinished; every service still ready; real verifications still complete.
// FUZZ_SEED replays a run (a fresh seed each run otherwise, printed); FUZZ_INPUTS sizes it:
// that many gRPC calls, twice as many REST requests, half as many pipeline messages.
const settings = loadFuzzSettings(process.env);
const API_KEY = "fuzz-key";
const REQUEST_TIMEOUT_MS = 15_000;
const tally = createTally();
let sys: System;
let nats: NatsClients;
let known: KnownIds;
/** Registered content: a verification of it must come out OK, before, during and after the fuzz. */
const canaries: Promise<string>[] = [];
/**
 * Jobs that several pipeline inputs name (the warm-up's, a few odd ids): their histories are
 * forged from unrelated events with runs of their own, so no state of theirs is judged.
 */
const forgedJobs = new Set<string>();

const auth = { "x-api-key": API_KEY };

async function canary(label: string): Promise<string> {
  const content = `fuzz canary ${settings.seed} ${label} ${Math.random()}`;
  const { manifestUri } = await sys.publish(content);
  const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, headers: auth });
  if (accepted.status !== 202) throw new Error(`canary ${label} refused: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  return accepted.body.jobId as string;
}

beforeAll(async () => {
  console.log(`fuzz: seed ${settings.seed} (FUZZ_SEED=${settings.seed} replays it), FUZZ_INPUTS=${settings.inputs}`);
  // A short upload-rate window: a request body cut short on a connection held open is answered 408 within seconds.
  sys = await startSystem({ API_KEYS: API_KEY, GATEWAY_SYNC_TIMEOUT_MS: "5000", STATUS_WATCH_POLL_MS: "500", HTTP_UPLOAD_RATE_WINDOW_MS: "2000" });
  nats = await connectNats({ url: sys.nats.url, name: "fuzz-test", log: createSilentLogger() });
  // Things that exist, so that some fuzzed requests get past the lookups: a completed job, a
  // failed one, a dead letter, a webhook subscription.
  const completed = await canary("warm-up");
  const failed = await submit(sys.gatewayUrl, { file: "no manifest", registryAddress: sys.registry, manifestURI: `${sys.manifests.url}/missing.json`, headers: auth });
  await waitForJob(sys.statusUrl, completed, undefined, auth);
  await waitForJob(sys.statusUrl, failed.body.jobId, undefined, auth);
  await nats.js.publish(subjectFor("content.hashed", "7d3f0c1e-0000-4000-8000-000000000000"), Buffer.from("not an event"));
  const hook = await fetch(`${sys.webhooksUrl}/api/webhooks`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ url: "http://127.0.0.1:1/hook", eventTypes: ["verification.failed"] }) });
  const seqs = await eventuallyDeadLetterSeqs();
  known = {
    registry: sys.registry,
    manifestsUrl: sys.manifests.url,
    apiKey: API_KEY,
    params: { jobId: [completed, failed.body.jobId as string], seq: seqs, id: [((await hook.json()) as { id: string }).id] },
  };
}, 120_000);

afterAll(async () => {
  if (tally) console.log(tally.report(settings.seed));
  await nats?.close();
  await sys?.stop();
});

async function eventuallyDeadLetterSeqs(): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const info = await nats.jsm.streams.info(DEAD_LETTER_STREAM);
    if (info.state.messages > 0) return Array.from({ length: info.state.messages }, (_, k) => String(info.state.first_seq + k));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the warm-up's undecodable message was never dead-lettered");
}

describe("fuzz", () => {
  it("REST: every route of gateway, status and webhooks answers hostile requests with a 4xx", async () => {
    const r = createRandom(settings.seed).fork("rest");
    const targets = (["gateway", "status", "webhooks"] as const).flatMap((name) => {
      const service = sys.services[name];
      if (!service.routes?.length || !service.port) throw new Error(`${name} reports no REST routes`);
      return service.routes.map((route) => ({ name, port: service.port!, route }));
    });
    const inputs = Array.from({ length: settings.inputs * 2 }, (_, i) => {
      const target = targets[i % targets.length]!;
      return { target, request: fuzzedRequest(r, target.route, known) };
    });
    await inPool(inputs, 8, async ({ target, request }, i) => {
      if (i % 500 === 0) canaries.push(canary(`rest ${i}`));
      const answer = await exchange(target.port, request.bytes, { timeoutMs: REQUEST_TIMEOUT_MS, halfClose: request.halfClose, head: request.method === "HEAD" });
      const { outcome, problem } = judgeRest(answer, request);
      tally.record("rest", outcome, `${target.name} ${request.summary}`, problem);
    });
    expect(tally.problemsOf("rest").length, tally.report(settings.seed, "rest")).toBe(0);
  }, 240_000);

  it("gRPC: every method of every service answers random protobuf with a client error", async () => {
    const r = createRandom(settings.seed).fork("grpc");
    const servers = [
      { address: sys.statusGrpcAddress, definition: loadStatusProtos().packageDefinition },
      { address: sys.gatewayGrpcAddress, definition: loadSubmissionServiceProto().packageDefinition },
    ];
    const hints = { manifestsUrl: sys.manifests.url, strings: { jobId: known.params.jobId!, seq: known.params.seq!, after: known.params.seq!, registryAddress: [sys.registry] } };
    const targets = servers.flatMap(({ address, definition }) => {
      const client = new grpc.Client(address, grpc.credentials.createInsecure());
      const encoder = createMessageEncoder(definition, hints);
      return methodsOf(definition).map((method) => ({ client, encoder, method }));
    });
    const messagesFor = (encoder: (typeof targets)[number]["encoder"], method: GrpcMethod): Buffer[] => {
      const one = () => (r.chance(0.3) ? r.bytes(r.chance(0.95) ? r.int(512) : r.between(4096, 65536)) : encoder.encode(r, method.requestType));
      return method.requestStream ? Array.from({ length: r.int(6) }, one) : [one()];
    };
    const inputs = Array.from({ length: settings.inputs }, (_, i) => {
      const { client, encoder, method } = targets[i % targets.length]!;
      return { client, method, messages: messagesFor(encoder, method), metadata: fuzzedMetadata(r, API_KEY, () => hostileString(r, 200)) };
    });
    try {
      await inPool(inputs, 8, async ({ client, method, messages, metadata }) => {
        const answer = await callRaw(client, method, messages, metadata, { deadlineMs: REQUEST_TIMEOUT_MS, openMs: 300 });
        const { outcome, problem } = judgeGrpc(answer);
        tally.record("grpc", outcome, `${method.path} ${messages.map((m) => m.toString("base64")).join(" ").slice(0, 400)}`, problem);
      });
    } finally {
      for (const { client } of targets) client.close();
    }
    expect(tally.problemsOf("grpc").length, tally.report(settings.seed, "grpc")).toBe(0);
  }, 240_000);

  it("pipeline: random payloads on every pipeline subject are dead-lettered or handled, and leave nothing behind", async () => {
    const r = createRandom(settings.seed).fork("pipeline");
    const types = pipelineEventTypes();
    const dlqBefore = (await nats.jsm.streams.info(DEAD_LETTER_STREAM)).state.last_seq;
    const bystanders = await storeBystanderUploads(nats, sys.env);
    const hints = { manifestsUrl: sys.manifests.url, registry: sys.registry, jobIds: known.params.jobId!, uploadNames: bystanders.names };
    const sent: (PipelineMessage & { seq: number })[] = [];
    for (let i = 0; i < Math.ceil(settings.inputs / 2); i++) {
      if (i % 150 === 0) canaries.push(canary(`pipeline ${i}`));
      const message = fuzzedPipelineMessage(r, types[i % types.length]!, hints);
      if (!message.fresh) forgedJobs.add(message.subjectJobId);
      const ack = await nats.js.publish(message.subject, message.data);
      sent.push({ ...message, seq: ack.seq });
    }
    const held = await waitForDrain(nats.jsm, 60_000);
    if (Object.keys(held).length > 0) tally.problem("pipeline", `consumers still hold messages after 60 s: ${JSON.stringify(held)}`);
    for (const wrong of await bystanders.check()) tally.problem("pipeline", wrong);
    const deadLetters = await deadLettersAfter(nats.jsm, dlqBefore);
    for (const m of sent) {
      const seeing = durablesSeeing(m.subject.split(".")[1]!);
      let problem: string | undefined;
      if (!m.decodes) {
        const missing = seeing.filter((d) => !deadLetters.has(`${d} ${m.seq}`));
        if (missing.length > 0) problem = `not dead-lettered by ${missing.join(", ")}`;
      } else if (stageConsuming(m.type!) && !deadLetters.has(`${stageConsuming(m.type!)!.durable} ${m.seq}`)) {
        // A stage's input that it took, for a job no other input names: the job must have ended
        // (a terminal event of its run or a later one). Inputs for existing jobs, with runs of
        // their own, may leave an earlier run's ending last on its subject: not checked.
        if (m.fresh && !(await findJobEnding(nats.jsm, m.jobId!, m.run!))) problem = `job ${m.jobId} (run ${m.run}) never ended`;
      }
      tally.record("pipeline", `${m.kind}, ${m.decodes ? "decodes" : "dead-lettered"}`, `${m.subject} ${m.data.toString("utf8").slice(0, 600)}`, problem);
    }
    expect(tally.problemsOf("pipeline").length, tally.report(settings.seed, "pipeline")).toBe(0);
  }, 240_000);

  it("afterwards: every service is ready, no job is left unfinished, and real verifications complete", async () => {
    for (const [name, service] of Object.entries(sys.services)) {
      const res = await fetch(`http://127.0.0.1:${service.opsPort}/readyz`);
      if (res.status !== 200) tally.problem("after", `${name} is not ready: ${res.status}`);
    }
    canaries.push(canary("after"));
    for (const jobId of await Promise.all(canaries)) {
      const job = await waitForJob(sys.statusUrl, jobId, 60_000, auth);
      if (job.status !== "completed" || job.result?.status !== "OK") tally.problem("after", `canary ${jobId} ended ${job.status} ${JSON.stringify(job.failure ?? job.result?.reasons)}`);
    }
    const held = await waitForDrain(nats.jsm, 60_000);
    if (Object.keys(held).length > 0) tally.problem("after", `consumers still hold messages: ${JSON.stringify(held)}`);
    for (const status of ["queued", "processing"]) {
      const { body } = await getJson(`${sys.statusUrl}${JOBS_PATH}?status=${status}&limit=100`, auth);
      for (const job of body.jobs as { id: string; run: number }[]) {
        if (!forgedJobs.has(job.id)) tally.problem("after", `job ${job.id} (run ${job.run}) still ${status} after the drain`);
      }
    }
    // A job that failed with E_INTERNAL met an error nobody classified: a handler that broke on its input.
    for (let offset = 0; ; offset += 100) {
      const { body } = await getJson(`${sys.statusUrl}${JOBS_PATH}?status=failed&limit=100&offset=${offset}`, auth);
      for (const job of body.jobs as { id: string; failure: { code: string; stage: string; message: string } }[]) {
        if (job.failure.code === "E_INTERNAL") tally.problem("after", `job ${job.id} failed at ${job.failure.stage} with E_INTERNAL: ${job.failure.message}`);
      }
      if (body.jobs.length < 100) break;
    }
    expect(tally.problemsOf("after").length, tally.report(settings.seed, "after")).toBe(0);
  }, 240_000);
});
