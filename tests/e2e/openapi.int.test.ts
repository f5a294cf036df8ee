import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiRoutes, toOpenApiPath } from "@veriflow/api";
import { BATCHES_PATH, DEAD_LETTERS_PATH, JOBS_PATH, PIPELINE_PATH, WATCHES_PATH, WEBHOOK_SIGNING_SECRET_PATH, subjectFor } from "@veriflow/events";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { OPENAPI_FILE } from "../../libs/api/scripts/generate-openapi.js";
import { eventually } from "../support/client.js";
import { createContractJudge, type Answer, type Judged } from "../support/openapi-contract.js";
import { startReceiver, type Receiver } from "../support/receiver.js";
import { startSystem, type System } from "../support/system.js";

// The REST contract against the running system: every route the gateway serves is in the
// OpenAPI document it serves (and no other), and real answers of every operation (successes
// and the error answers that are cheap to provoke) validate against the document with ajv.

/** Routes the gateway serves that are not operations of the document: the reference page's static files. */
const UNDOCUMENTED_ROUTES = ["GET /docs/api/:file"];

const ADMIN = "openapi-test-admin";
/** Keys of tenant `limited` may send one read per window: the second is a 429. */
const RATE_LIMITS = "key:100000000/100000000,ip:100000000/100000000,tenant:limited:100/1";

let sys: System;
let nats: NatsClients;
let receiver: Receiver;
let doc: any;
let judge: ReturnType<typeof createContractJudge>;
/** `METHOD /path/{template} status` of each answer judged. */
const answered = new Set<string>();

beforeAll(async () => {
  sys = await startSystem({ API_KEYS: ADMIN, RATE_LIMITS });
  nats = await connectNats({ url: sys.nats.url, name: "openapi-test", log: createSilentLogger() });
  receiver = await startReceiver();
  const res = await fetch(`${sys.gatewayUrl}/openapi.json`);
  doc = await res.json();
  judge = createContractJudge(doc);
}, 180_000);

afterAll(async () => {
  await receiver?.close();
  await nats?.close();
  await sys?.stop();
});

type Body = { json: unknown } | { form: FormData } | { raw: string; type: string } | undefined;

/**
 * Sends a request to the gateway and judges its answer by the document: the operation of
 * `route` (a router path, `/api/webhooks/:id`), or the given component response.
 */
async function call(method: string, route: string, opts: { path?: string; key?: string | null; body?: Body; headers?: Record<string, string>; judged?: Judged } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.key === null ? {} : { "x-api-key": opts.key ?? ADMIN }), ...opts.headers };
  const b = opts.body;
  let body: string | FormData | undefined;
  if (b && "json" in b) [body, headers["content-type"]] = [JSON.stringify(b.json), "application/json"];
  else if (b && "form" in b) body = b.form;
  else if (b && "raw" in b) [body, headers["content-type"]] = [b.raw, b.type];
  const res = await fetch(`${sys.gatewayUrl}${opts.path ?? route}`, { method, headers, body });
  const text = await res.text();
  const isJson = (res.headers.get("content-type") ?? "").startsWith("application/json");
  const answer: Answer = { status: res.status, headers: res.headers, body: isJson && text !== "" ? JSON.parse(text) : text };
  const judged = opts.judged ?? { path: toOpenApiPath(route), method: method.toLowerCase() };
  expect(judge(judged, answer), `${method} ${opts.path ?? route} → ${res.status}`).toEqual([]);
  if ("path" in judged) answered.add(`${method.toUpperCase()} ${judged.path} ${res.status}`);
  return answer;
}

const fields = (f: Record<string, string>, file: string) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(f)) form.append(k, v);
  form.append("file", new Blob([file]), "upload.txt");
  return { form };
};
const json = (b: Answer) => b.body as any;

async function published(label: string) {
  const content = `openapi contract ${label} ${Math.random()}`;
  const { manifestUri } = await sys.publish(content);
  return { content, manifestURI: manifestUri };
}

/** Polls `path` (unjudged) until `ready` holds for its JSON body; the caller judges the final answer. */
async function until(what: string, path: string, ready: (body: any) => boolean): Promise<void> {
  await eventually(what, async () => {
    const res = await fetch(`${sys.gatewayUrl}${path}`, { headers: { "x-api-key": ADMIN } });
    return res.status === 200 && ready(await res.json()) ? true : undefined;
  });
}

async function settled(jobId: string) {
  await until(`job ${jobId} to settle`, `${JOBS_PATH}/${jobId}`, (job) => job.status === "completed" || job.status === "failed");
  return json(await call("GET", `${JOBS_PATH}/:jobId`, { path: `${JOBS_PATH}/${jobId}` }));
}

describe("the OpenAPI document", () => {
  it("documents every route the gateway serves, and no route it does not", () => {
    const served = sys.services.gateway.routes!.flatMap((r) => r.methods.filter((m) => m !== "HEAD").map((m) => `${m} ${r.path}`));
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    const servedAsOpenApi = served.filter((r) => !UNDOCUMENTED_ROUTES.includes(r)).map((r) => toOpenApiPath(r));
    expect(servedAsOpenApi.filter((r) => !documented.includes(r)), "served but not in the document (add them to apiRoutes in libs/api/src/routes.ts)").toEqual([]);
    expect(documented.filter((r) => !servedAsOpenApi.includes(r)), "in the document but not served").toEqual([]);
    expect(UNDOCUMENTED_ROUTES.filter((r) => !served.includes(r)), "listed as undocumented but not served").toEqual([]);
  });

  it("is served as committed (docs/openapi.json), with no key, and its reference page under a strict CSP", async () => {
    expect(doc).toEqual(JSON.parse(await readFile(OPENAPI_FILE, "utf8")));
    const again = await call("GET", "/openapi.json", { key: null });
    expect(again.headers.get("cache-control")).toMatch(/public/);
    const etag = again.headers.get("etag")!;
    // (fetch adds `cache-control: no-cache` to a conditional request unless one is given.)
    expect((await fetch(`${sys.gatewayUrl}/openapi.json`, { headers: { "if-none-match": etag, "cache-control": "max-age=0" } })).status).toBe(304);
    const page = await call("GET", "/docs/api", { key: null });
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self';/);
    expect(page.body).not.toMatch(/<script>|<style|style=|https?:\/\//);
    for (const src of (page.body as string).matchAll(/(?:src|href)="([^"]+)"/g)) {
      const res = await fetch(`${sys.gatewayUrl}${src[1]}`);
      expect(res.status, src[1]).toBe(200);
    }
    await call("GET", "/docs/api/:file", { path: "/docs/api/%2e%2e%2f%2e%2e%2fpackage.json", key: null, judged: { component: "NotFound" } });
    await call("GET", "/docs/api/:file", { path: "/docs/api/index.js", key: null, judged: { component: "NotFound" } });
  });
});

describe("real answers validate against the document", () => {
  let completedJob: string;
  let failedJob: string;

  it("submissions: async, sync, proofs, an idempotent repeat, and refused ones", async () => {
    const hook = json(await call("POST", "/api/webhooks", { body: { json: { url: receiver.url, eventTypes: ["verification.completed"] } } }));
    const p = await published("async");
    const asyncFields = { registryAddress: sys.registry, manifestURI: p.manifestURI, callbackUrl: receiver.url };
    const idem = { "idempotency-key": `openapi-${Math.random()}` };
    const accepted = await call("POST", `${JOBS_PATH}/verify`, { body: fields(asyncFields, p.content), headers: idem });
    expect(accepted.status).toBe(202);
    completedJob = json(accepted).jobId;
    const replayed = await call("POST", `${JOBS_PATH}/verify`, { body: fields(asyncFields, p.content), headers: idem });
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect((await call("POST", `${JOBS_PATH}/verify`, { body: fields(asyncFields, "another file"), headers: idem })).status).toBe(409);

    const proof = await published("proof");
    expect((await call("POST", `${JOBS_PATH}/proof`, { body: fields({ registryAddress: sys.registry, manifestURI: proof.manifestURI }, proof.content) })).status).toBe(202);
    expect((await call("POST", `${JOBS_PATH}/proof`, { path: `${JOBS_PATH}/proof?wait=20`, body: fields({ registryAddress: sys.registry, manifestURI: proof.manifestURI }, proof.content) })).status).toBe(200);
    expect((await call("POST", "/api/verify", { body: fields({ registryAddress: sys.registry, manifestURI: p.manifestURI }, p.content) })).status).toBe(200);
    expect((await call("POST", "/api/proof", { body: fields({ registryAddress: sys.registry, manifestURI: proof.manifestURI }, proof.content) })).status).toBe(200);

    const missing = { registryAddress: sys.registry, manifestURI: `${sys.manifests.url}/missing-${Math.random()}.json` };
    expect((await call("POST", "/api/verify", { body: fields(missing, "no manifest for this") })).status).toBe(422);
    failedJob = json(await call("POST", `${JOBS_PATH}/verify`, { body: fields(missing, "no manifest for this either") })).jobId;

    expect((await call("POST", `${JOBS_PATH}/verify`, { body: fields({ manifestURI: p.manifestURI }, p.content) })).status).toBe(400);
    expect((await call("POST", `${JOBS_PATH}/verify`, { body: fields({ registryAddress: "0x12", manifestURI: p.manifestURI }, p.content) })).status).toBe(400);
    expect((await call("POST", `${JOBS_PATH}/verify`, { path: `${JOBS_PATH}/verify?wait=soon`, body: fields(asyncFields, p.content) })).status).toBe(400);
    expect((await call("POST", "/api/proof", { body: { json: { registryAddress: sys.registry } } })).status).toBe(415);
    expect(hook.id).toBeTruthy();
  });

  it("jobs: read, list, stats, history, events, deliveries, retry", async () => {
    expect((await settled(completedJob)).status).toBe("completed");
    expect((await settled(failedJob)).status).toBe("failed");
    const page = json(await call("GET", JOBS_PATH, { path: `${JOBS_PATH}?limit=2` }));
    expect(page.jobs).toHaveLength(2);
    await call("GET", JOBS_PATH, { path: `${JOBS_PATH}?limit=2&cursor=${page.nextCursor}&status=completed` });
    expect((await call("GET", JOBS_PATH, { path: `${JOBS_PATH}?status=done&limit=-1&limit=2` })).status).toBe(400);
    await call("GET", `${JOBS_PATH}/stats`);
    const pipelineView = json(await call("GET", PIPELINE_PATH));
    expect(pipelineView.consumers.length).toBeGreaterThan(0);
    const byHash = json(await call("GET", JOBS_PATH, { path: `${JOBS_PATH}?type=verify&contentHash=0x${"ab".repeat(32)}` }));
    expect(byHash.total).toBeNull();
    expect((await call("GET", JOBS_PATH, { path: `${JOBS_PATH}?contentHash=0x12` })).status).toBe(400);
    await call("GET", `${JOBS_PATH}/:jobId/history`, { path: `${JOBS_PATH}/${completedJob}/history` });
    const events = await call("GET", `${JOBS_PATH}/:jobId/events`, { path: `${JOBS_PATH}/${completedJob}/events` });
    expect(events.body).toMatch(/event: end/);
    await until("the callback delivered", `${JOBS_PATH}/${completedJob}/deliveries`, (d) => d.deliveries[0]?.attempts.length > 0);
    await call("GET", `${JOBS_PATH}/:jobId/deliveries`, { path: `${JOBS_PATH}/${completedJob}/deliveries` });
    expect((await call("GET", `${JOBS_PATH}/:jobId`, { path: `${JOBS_PATH}/not-a-uuid` })).status).toBe(400);
    expect((await call("GET", `${JOBS_PATH}/:jobId`, { path: `${JOBS_PATH}/7d3f0c1e-0000-4000-8000-00000000beef` })).status).toBe(404);
    expect((await call("POST", `${JOBS_PATH}/:jobId/retry`, { path: `${JOBS_PATH}/${completedJob}/retry` })).status).toBe(409);
    expect((await call("POST", `${JOBS_PATH}/:jobId/retry`, { path: `${JOBS_PATH}/${failedJob}/retry` })).status).toBe(202);
  });

  it("batches: submitted with a refused part, read when done, refused whole", async () => {
    const a = await published("batch a");
    const form = new FormData();
    form.append("registryAddress", sys.registry);
    form.append("file", new Blob([a.content]), "a.txt");
    form.append("file", new Blob(["no manifest for this one"]), "b.txt");
    form.append("manifestURI", a.manifestURI);
    const accepted = await call("POST", BATCHES_PATH, { body: { form } });
    expect(accepted.status).toBe(202);
    const batchId = json(accepted).batchId;
    expect(json(accepted).rejected).toHaveLength(1);
    await until("the batch done", `${BATCHES_PATH}/${batchId}`, (b) => b.done === true);
    expect(json(await call("GET", `${BATCHES_PATH}/:batchId`, { path: `${BATCHES_PATH}/${batchId}?limit=5` })).counts.completed).toBe(1);
    expect((await call("GET", `${BATCHES_PATH}/:batchId`, { path: `${BATCHES_PATH}/not-a-uuid` })).status).toBe(400);
    expect((await call("GET", `${BATCHES_PATH}/:batchId`, { path: `${BATCHES_PATH}/7d3f0c1e-0000-4000-8000-00000000beef` })).status).toBe(404);
    const none = new FormData();
    none.append("registryAddress", sys.registry);
    none.append("file", new Blob(["x"]), "x.txt");
    expect((await call("POST", BATCHES_PATH, { body: { form: none } })).status).toBe(400);
  });

  it("watches: created, listed, read with a verdict, stopped twice, refused", async () => {
    const w = await published("watch");
    const { createHash } = await import("node:crypto");
    const contentHash = `0x${createHash("sha256").update(w.content).digest("hex")}`;
    const accepted = await call("POST", WATCHES_PATH, { body: { json: { contentHash, manifestURI: w.manifestURI, registryAddress: sys.registry, recheckEvery: "PT1H" } } });
    expect(accepted.status).toBe(202);
    const watchId = json(accepted).watchId as string;
    await until("the watch's verdict", `${WATCHES_PATH}/${watchId}`, (x) => x.status === "completed");
    expect(json(await call("GET", `${WATCHES_PATH}/:watchId`, { path: `${WATCHES_PATH}/${watchId}` })).verdict.status).toBe("OK");
    await call("GET", WATCHES_PATH, { path: `${WATCHES_PATH}?limit=5&active=true` });
    expect((await call("DELETE", `${WATCHES_PATH}/:watchId`, { path: `${WATCHES_PATH}/${watchId}` })).status).toBe(204);
    expect((await call("DELETE", `${WATCHES_PATH}/:watchId`, { path: `${WATCHES_PATH}/${watchId}` })).status).toBe(204);
    expect(json(await call("GET", `${WATCHES_PATH}/:watchId`, { path: `${WATCHES_PATH}/${watchId}` })).active).toBe(false);
    expect((await call("GET", `${WATCHES_PATH}/:watchId`, { path: `${WATCHES_PATH}/7d3f0c1e-0000-4000-8000-00000000beef` })).status).toBe(404);
    expect((await call("DELETE", `${WATCHES_PATH}/:watchId`, { path: `${WATCHES_PATH}/not-a-uuid` })).status).toBe(400);
    expect((await call("GET", WATCHES_PATH, { path: `${WATCHES_PATH}?active=perhaps` })).status).toBe(400);
    expect((await call("POST", WATCHES_PATH, { body: { json: { contentHash: "0x12", manifestURI: w.manifestURI, registryAddress: sys.registry } } })).status).toBe(400);
    expect((await call("POST", WATCHES_PATH, { body: { raw: "contentHash=0x12", type: "text/plain" } })).status).toBe(415);
  });

  it("dead letters: list, show, replay", async () => {
    await nats.js.publish(subjectFor("content.hashed", "7d3f0c1e-0000-4000-8000-0000000a11ce"), Buffer.from("not an event"));
    await until("a dead letter", DEAD_LETTERS_PATH, (p) => p.deadLetters.length > 0);
    const page = json(await call("GET", DEAD_LETTERS_PATH));
    const seq = page.deadLetters[0].seq as number;
    await call("GET", DEAD_LETTERS_PATH, { path: `${DEAD_LETTERS_PATH}?limit=1&after=0&consumer=${page.deadLetters[0].consumer}` });
    await call("GET", `${DEAD_LETTERS_PATH}/:seq`, { path: `${DEAD_LETTERS_PATH}/${seq}` });
    expect((await call("POST", `${DEAD_LETTERS_PATH}/:seq/replay`, { path: `${DEAD_LETTERS_PATH}/${seq}/replay` })).status).toBe(202);
    expect((await call("GET", `${DEAD_LETTERS_PATH}/:seq`, { path: `${DEAD_LETTERS_PATH}/${seq}` })).status).toBe(404);
    expect((await call("GET", `${DEAD_LETTERS_PATH}/:seq`, { path: `${DEAD_LETTERS_PATH}/zero` })).status).toBe(400);
    expect((await call("GET", DEAD_LETTERS_PATH, { path: `${DEAD_LETTERS_PATH}?limit=0` })).status).toBe(400);
  });

  it("webhooks: subscriptions, their deliveries, the signing secret", async () => {
    const created = json(await call("POST", "/api/webhooks", { body: { json: { url: receiver.url, eventTypes: ["verification.failed"], description: "contract test" } } }));
    await call("GET", "/api/webhooks", { path: "/api/webhooks?limit=5" });
    const badPage = await call("GET", "/api/webhooks", { path: "/api/webhooks?limit=-1&offset=x" });
    expect(json(badPage).error.details.problems).toHaveLength(2);
    await call("GET", "/api/webhooks/:id", { path: `/api/webhooks/${created.id}` });
    await call("GET", "/api/webhooks/:id/deliveries", { path: `/api/webhooks/${created.id}/deliveries` });
    expect((await call("DELETE", "/api/webhooks/:id", { path: `/api/webhooks/${created.id}` })).status).toBe(204);
    expect((await call("GET", "/api/webhooks/:id", { path: `/api/webhooks/${created.id}` })).status).toBe(404);
    expect((await call("GET", "/api/webhooks/:id", { path: "/api/webhooks/nope" })).status).toBe(400);
    expect((await call("POST", "/api/webhooks", { body: { json: { url: receiver.url, eventTypes: ["nothing.happened"] } } })).status).toBe(400);
    expect((await call("POST", "/api/webhooks", { body: { raw: "{", type: "application/json" } })).status).toBe(400);
    await call("GET", WEBHOOK_SIGNING_SECRET_PATH);
    await call("POST", `${WEBHOOK_SIGNING_SECRET_PATH}/rotate`, { body: { json: { overlapSeconds: 60 } } });
    await call("POST", `${WEBHOOK_SIGNING_SECRET_PATH}/rotate`);
    expect((await call("POST", `${WEBHOOK_SIGNING_SECRET_PATH}/rotate`, { body: { json: { overlapSeconds: -1 } } })).status).toBe(400);
  });

  it("keys, and the answers of authentication, scopes, rate limits, unknown paths and methods", async () => {
    const reader = json(await call("POST", "/api/keys", { body: { json: { tenant: "readers", scopes: ["read"], expires: "30d" } } }));
    const limited = json(await call("POST", "/api/keys", { body: { json: { tenant: "limited", scopes: ["read"] } } }));
    await call("GET", "/api/keys");
    await call("GET", "/api/keys", { path: "/api/keys?tenant=readers" });
    expect((await call("POST", "/api/keys", { body: { json: { scopes: ["everything"] } } })).status).toBe(400);
    expect((await call("DELETE", "/api/keys/:id", { path: "/api/keys/123" })).status).toBe(400);

    expect((await call("GET", JOBS_PATH, { key: null })).status).toBe(401);
    expect((await call("GET", JOBS_PATH, { key: "not a key we issued" })).status).toBe(401);
    expect((await call("GET", DEAD_LETTERS_PATH, { key: reader.key })).status).toBe(403);
    expect((await call("POST", `${JOBS_PATH}/verify`, { key: reader.key, body: fields({}, "x") })).status).toBe(403);
    expect((await call("GET", "/api/keys", { key: reader.key })).status).toBe(403);
    await call("GET", `${JOBS_PATH}/stats`, { key: limited.key });
    const refused = await call("GET", `${JOBS_PATH}/stats`, { key: limited.key });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);

    const missing = await call("GET", "/api/nothing-here", { judged: { component: "NotFound" } });
    expect(missing.status).toBe(404);
    const wrongMethod = await call("DELETE", `${JOBS_PATH}/:jobId`, { path: `${JOBS_PATH}/${completedJob}`, judged: { component: "MethodNotAllowed" } });
    expect(wrongMethod.status).toBe(405);
    expect((await call("PUT", "/openapi.json", { judged: { component: "MethodNotAllowed" } })).status).toBe(405);
    expect((await call("DELETE", "/api/keys/:id", { path: `/api/keys/${reader.id}` })).status).toBe(200);
    expect((await call("DELETE", "/api/keys/:id", { path: `/api/keys/7d3f0c1e-0000-4000-8000-00000000beef` })).status).toBe(404);
  });

  it("covered every operation with a successful answer", () => {
    const ok = [...answered].filter((a) => / 2\d\d$/.test(a)).map((a) => a.replace(/ \d+$/, ""));
    const operations = apiRoutes.map((r) => `${r.method.toUpperCase()} ${toOpenApiPath(r.path)}`);
    expect(operations.filter((op) => !ok.includes(op))).toEqual([]);
  });
});
