import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEAD_LETTERS_PATH, JOBS_PATH, newJobId, subjectFor } from "@veriflow/events";
import { grpc, type Job__Output } from "@veriflow/grpc";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { submit } from "../support/client.js";
import { buildCli, runCli } from "../support/cli.js";
import { call, checkHealth, collect, deadLetterServiceClient, jobServiceClient, submissionServiceClient, submitVerification } from "../support/grpc.js";
import { asKey, createKey } from "../support/keys.js";
import { startSystem, type System } from "../support/system.js";

// Keys, scopes and tenants on the whole system (real nats-server, PostgreSQL, chain, services):
// tenants acme and globex hold keys made through the admin API with a bootstrap key (API_KEYS),
// and neither can see or touch anything of the other's, on any surface. Key lookups are cached
// for AUTH_CACHE_TTL_MS, here 1 s: the time within which a revoked key stops working.
const BOOT = "tenants-test-bootstrap-key";
const CACHE_TTL_MS = 1000;
let sys: System;
let nats: NatsClients;
const keys = {} as Record<"acme" | "acmeRead" | "acmeSubmit" | "globex", string>;

beforeAll(async () => {
  sys = await startSystem({ API_KEYS: BOOT, AUTH_CACHE_TTL_MS: String(CACHE_TTL_MS), STATUS_WATCH_POLL_MS: "500" });
  nats = await connectNats({ url: sys.nats.url, name: "tenants-test", log: createSilentLogger() });
  keys.acme = (await createKey(sys.gatewayUrl, BOOT, "acme", ["submit", "read", "admin"])).key;
  keys.acmeRead = (await createKey(sys.gatewayUrl, BOOT, "acme", ["read"])).key;
  // A tenant's admin key makes its own tenant's keys.
  keys.acmeSubmit = (await createKey(sys.gatewayUrl, keys.acme, "acme", ["submit"])).key;
  keys.globex = (await createKey(sys.gatewayUrl, BOOT, "globex", ["submit", "read", "admin"])).key;
});
afterAll(async () => {
  await nats?.close();
  await sys?.stop();
});

async function api(base: string, method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = key ? asKey(key) : {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const gw = (method: string, path: string, key?: string, body?: unknown) => api(sys.gatewayUrl, method, path, key, body);

const metadata = (key?: string) => {
  const m = new grpc.Metadata();
  if (key) m.set("x-api-key", key);
  return m;
};
const grpcError = (p: Promise<unknown>) => p.then(() => null, (e: grpc.ServiceError) => ({ code: grpc.status[e.code], errorCode: e.metadata.get("x-error-code")[0] }));

/** A job of the key's tenant, to its end; `failing`: its manifest answers 404 once (it fails at the manifest stage). */
async function finishedJob(key: string, opts: { failing?: boolean } = {}): Promise<string> {
  const content = `tenants ${randomBytes(16).toString("hex")}`;
  const { manifestUri } = await sys.publish(content);
  if (opts.failing) sys.manifests.failNext(manifestUri, 1, 404);
  const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, headers: asKey(key) });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  const jobId = accepted.body.jobId as string;
  for (const deadline = Date.now() + 20_000; ; ) {
    const { body } = await gw("GET", `${JOBS_PATH}/${jobId}`, key);
    if (body.status === (opts.failing ? "failed" : "completed")) return jobId;
    if (Date.now() > deadline) throw new Error(`job ${jobId} is ${body.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("every socket wants a valid key", () => {
  it("REST on the gateway, status and webhooks answers 401 without a key or with an unknown one; /healthz does not ask", async () => {
    const someJob = randomUUID();
    const routes: [string, string][] = [
      [sys.gatewayUrl, JOBS_PATH],
      [sys.gatewayUrl, `${JOBS_PATH}/stats`],
      [sys.gatewayUrl, `${JOBS_PATH}/${someJob}`],
      [sys.gatewayUrl, `${JOBS_PATH}/${someJob}/events`],
      [sys.gatewayUrl, DEAD_LETTERS_PATH],
      [sys.gatewayUrl, "/api/webhooks"],
      [sys.gatewayUrl, "/api/keys"],
      [sys.gatewayUrl, "/nowhere"],
      [sys.statusUrl, JOBS_PATH],
      [sys.statusUrl, `${JOBS_PATH}/stats`],
      [sys.statusUrl, `${JOBS_PATH}/${someJob}/history`],
      [sys.statusUrl, `${JOBS_PATH}/${someJob}/events`],
      [sys.statusUrl, DEAD_LETTERS_PATH],
      [sys.webhooksUrl, "/api/webhooks"],
      [sys.webhooksUrl, "/api/webhooks/signing-secret"],
      [sys.webhooksUrl, `${JOBS_PATH}/${someJob}/deliveries`],
    ];
    for (const [base, path] of routes) {
      for (const key of [undefined, "vfk_" + "A".repeat(43), "not-a-key"]) {
        const res = await api(base, "GET", path, key);
        expect(res.status, `${base}${path} ${key ?? "(no key)"}`).toBe(401);
        expect(res.body.error.code).toBe("E_UNAUTHORIZED");
      }
    }
    const anonymous = await submit(sys.gatewayUrl, { file: "x", registryAddress: sys.registry, manifestURI: "https://example.com/m.json" });
    expect(anonymous.status).toBe(401);
    for (const [name, service] of Object.entries(sys.services)) {
      expect((await fetch(`http://127.0.0.1:${service.opsPort}/healthz`)).status, name).toBe(200);
    }
  });

  it("gRPC answers UNAUTHENTICATED without a valid key on every service; health answers anyway", async () => {
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    const deadLetters = deadLetterServiceClient(sys.statusGrpcAddress);
    const submissions = submissionServiceClient(sys.gatewayGrpcAddress);
    try {
      for (const md of [metadata(), metadata("vfk_" + "A".repeat(43))]) {
        expect(await grpcError(call((cb) => jobs.listJobs({}, md, cb)))).toEqual({ code: "UNAUTHENTICATED", errorCode: "E_UNAUTHORIZED" });
        expect(await grpcError(call((cb) => jobs.getStats({}, md, cb)))).toMatchObject({ code: "UNAUTHENTICATED" });
        expect(await grpcError(call((cb) => deadLetters.listDeadLetters({}, md, cb)))).toMatchObject({ code: "UNAUTHENTICATED" });
        expect(await grpcError(submitVerification(submissions, [], md))).toMatchObject({ code: "UNAUTHENTICATED" });
      }
      expect(await checkHealth(sys.statusGrpcAddress)).toBe("SERVING");
      expect(await checkHealth(sys.gatewayGrpcAddress)).toBe("SERVING");
    } finally {
      jobs.close();
      deadLetters.close();
      submissions.close();
    }
  });
});

describe("scopes", () => {
  it("a key does what its scopes allow; 403 E_FORBIDDEN names the missing scope (gRPC PERMISSION_DENIED)", async () => {
    const readOnly = await submit(sys.gatewayUrl, { file: "x", registryAddress: sys.registry, manifestURI: "https://example.com/m.json", headers: asKey(keys.acmeRead) });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.error).toEqual({ code: "E_FORBIDDEN", message: 'this API key lacks the "submit" scope (it has read)' });
    for (const [method, path] of [
      ["POST", `${JOBS_PATH}/${randomUUID()}/retry`],
      ["GET", DEAD_LETTERS_PATH],
      ["GET", "/api/webhooks"],
      ["GET", "/api/webhooks/signing-secret"],
      ["GET", "/api/keys"],
    ] as const) {
      const res = await gw(method, path, keys.acmeRead);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe("E_FORBIDDEN");
    }
    expect((await gw("GET", JOBS_PATH, keys.acmeRead)).status).toBe(200);
    expect((await gw("GET", JOBS_PATH, keys.acmeSubmit)).body.error).toEqual({ code: "E_FORBIDDEN", message: 'this API key lacks the "read" scope (it has submit)' });
    expect((await api(sys.statusUrl, "GET", `${JOBS_PATH}/stats`, keys.acmeSubmit)).status).toBe(403);

    const jobs = jobServiceClient(sys.statusGrpcAddress);
    const deadLetters = deadLetterServiceClient(sys.statusGrpcAddress);
    const submissions = submissionServiceClient(sys.gatewayGrpcAddress);
    try {
      expect(await grpcError(call((cb) => jobs.listJobs({}, metadata(keys.acmeSubmit), cb)))).toEqual({ code: "PERMISSION_DENIED", errorCode: "E_FORBIDDEN" });
      expect(await grpcError(call((cb) => jobs.retryJob({ jobId: randomUUID() }, metadata(keys.acmeRead), cb)))).toMatchObject({ code: "PERMISSION_DENIED" });
      expect(await grpcError(call((cb) => deadLetters.listDeadLetters({}, metadata(keys.acmeRead), cb)))).toMatchObject({ code: "PERMISSION_DENIED" });
      expect(await grpcError(submitVerification(submissions, [], metadata(keys.acmeRead)))).toMatchObject({ code: "PERMISSION_DENIED" });
      expect(await grpcError(call((cb) => jobs.getStats({}, metadata(keys.acmeRead), cb)))).toBeNull();
    } finally {
      jobs.close();
      deadLetters.close();
      submissions.close();
    }
  });
});

describe("tenants on REST and SSE", () => {
  it("another tenant's job is not found on every job route, through the gateway and on status itself, and missing from lists and counts", async () => {
    const jobId = await finishedJob(keys.acme);
    for (const base of [sys.gatewayUrl, sys.statusUrl]) {
      for (const path of [`${JOBS_PATH}/${jobId}`, `${JOBS_PATH}/${jobId}/history`, `${JOBS_PATH}/${jobId}/events`]) {
        const res = await api(base, "GET", path, keys.globex);
        expect(res.status, `${base}${path}`).toBe(404);
        expect(res.body.error).toEqual({ code: "E_JOB_NOT_FOUND", message: `no job ${jobId}` });
      }
    }
    const sse = await fetch(`${sys.gatewayUrl}${JOBS_PATH}/${jobId}/events`, { headers: asKey(keys.acme) });
    expect(sse.headers.get("content-type")).toMatch(/text\/event-stream/);
    expect(await sse.text()).toMatch(/event: end/);
    // A job's callback deliveries: another tenant's job reads as an unknown one does.
    expect((await gw("GET", `${JOBS_PATH}/${jobId}/deliveries`, keys.globex)).body).toEqual({ jobId, callbackUrl: null, deliveries: [] });

    const list = async (key: string) => (await gw("GET", `${JOBS_PATH}?limit=100`, key)).body;
    const stats = async (key: string) => (await gw("GET", `${JOBS_PATH}/stats`, key)).body;
    expect((await list(keys.acme)).jobs.map((j: any) => j.id)).toContain(jobId);
    expect((await list(keys.globex)).jobs.map((j: any) => j.id)).not.toContain(jobId);
    // Counts are each tenant's own: they add up to its own list's total.
    for (const key of [keys.acme, keys.globex]) {
      const s = await stats(key);
      expect(s.waiting + s.active + s.completed + s.failed).toBe((await list(key)).total);
    }
    expect((await stats(keys.acme)).completed).toBeGreaterThan(0);
  });

  it("another tenant's failed job cannot be retried (404); its owner's retry starts run 2", async () => {
    const jobId = await finishedJob(keys.acme, { failing: true });
    const theirs = await gw("POST", `${JOBS_PATH}/${jobId}/retry`, keys.globex);
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.code).toBe("E_JOB_NOT_FOUND");
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    try {
      expect(await grpcError(call((cb) => jobs.retryJob({ jobId }, metadata(keys.globex), cb)))).toEqual({ code: "NOT_FOUND", errorCode: "E_JOB_NOT_FOUND" });
    } finally {
      jobs.close();
    }
    const mine = await gw("POST", `${JOBS_PATH}/${jobId}/retry`, keys.acmeSubmit);
    expect(mine.status, JSON.stringify(mine.body)).toBe(202);
    expect(mine.body).toMatchObject({ jobId, run: 2, stage: "manifest" });
  });
});

describe("tenants on gRPC", () => {
  it("GetJob and WatchJob answer NOT_FOUND for another tenant's job; ListJobs and GetStats show a tenant its own", async () => {
    const jobId = await finishedJob(keys.acme);
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    try {
      expect((await call<Job__Output>((cb) => jobs.getJob({ jobId }, metadata(keys.acmeRead), cb))).id).toBe(jobId);
      expect(await grpcError(call((cb) => jobs.getJob({ jobId }, metadata(keys.globex), cb)))).toEqual({ code: "NOT_FOUND", errorCode: "E_JOB_NOT_FOUND" });
      const watched = await collect(jobs.watchJob({ jobId }, metadata(keys.globex), { deadline: new Date(Date.now() + 10_000) }));
      expect(watched.messages).toEqual([]);
      expect(grpc.status[watched.error!.code]).toBe("NOT_FOUND");
      const listed = async (key: string) => (await call<any>((cb) => jobs.listJobs({ pageSize: 100 }, metadata(key), cb))).jobs.map((j: Job__Output) => j.id);
      expect(await listed(keys.acme)).toContain(jobId);
      expect(await listed(keys.globex)).not.toContain(jobId);
      const restStats = (await gw("GET", `${JOBS_PATH}/stats`, keys.globex)).body;
      const grpcStats = await call<any>((cb) => jobs.getStats({}, metadata(keys.globex), cb));
      expect(grpcStats).toMatchObject({ queued: restStats.waiting, processing: restStats.active, completed: restStats.completed, failed: restStats.failed });
    } finally {
      jobs.close();
    }
  });

  it("WatchJobs hears its own tenant's jobs finishing, never another's", async () => {
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    const ours = jobs.watchJobs({}, metadata(keys.acme));
    const theirs = jobs.watchJobs({}, metadata(keys.globex));
    const heard = { ours: [] as string[], theirs: [] as string[] };
    ours.on("data", (j: Job__Output) => heard.ours.push(j.id));
    theirs.on("data", (j: Job__Output) => heard.theirs.push(j.id));
    ours.on("error", () => {});
    theirs.on("error", () => {});
    try {
      await Promise.all([new Promise((r) => ours.once("metadata", r)), new Promise((r) => theirs.once("metadata", r))]);
      const jobId = await finishedJob(keys.acme);
      for (const deadline = Date.now() + 10_000; !heard.ours.includes(jobId); await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() > deadline) throw new Error("acme's watch never heard its job finish");
      }
      await new Promise((r) => setTimeout(r, 1000)); // the safety-net poll (500 ms) has run meanwhile
      expect(heard.theirs).not.toContain(jobId);
    } finally {
      ours.cancel();
      theirs.cancel();
      jobs.close();
    }
  });
});

describe("dead letters", () => {
  /** The dead letters of `subject` the bootstrap key sees, once every consumer that takes it set it aside. */
  async function deadLettersOf(subject: string, count: number): Promise<any[]> {
    for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const found = (await gw("GET", `${DEAD_LETTERS_PATH}?limit=100`, BOOT)).body.deadLetters.filter((d: any) => d.subject === subject);
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`${found.length} dead letters of ${subject}`);
    }
  }

  it("a tenant's admin sees its own; another's is not found, even to replay; bytes of no tenant are the bootstrap key's only", async () => {
    // An event of acme's that its consumers refuse (its data is not content.hashed's), and bytes that name nobody.
    const ownedSubject = subjectFor("content.hashed", newJobId());
    const refused = { id: randomUUID(), type: "content.hashed", occurredAt: new Date().toISOString(), correlationId: randomUUID(), causationId: null, tenant: "acme", data: { nope: true } };
    await nats.js.publish(ownedSubject, new TextEncoder().encode(JSON.stringify(refused)));
    const orphanSubject = subjectFor("content.hashed", newJobId());
    await nats.js.publish(orphanSubject, new TextEncoder().encode("not an event at all"));
    // The manifest stage, status and webhooks each set both aside.
    const owned = await deadLettersOf(ownedSubject, 3);
    const orphans = await deadLettersOf(orphanSubject, 3);

    const listed = async (key: string) => (await gw("GET", `${DEAD_LETTERS_PATH}?limit=100`, key)).body;
    const acme = await listed(keys.acme);
    expect(acme.deadLetters.map((d: any) => d.seq)).toEqual(expect.arrayContaining(owned.map((d) => d.seq)));
    expect(acme.deadLetters.map((d: any) => d.subject)).not.toContain(orphanSubject);
    expect(acme.total).toBe(acme.deadLetters.length);
    expect(Object.values(acme.byConsumer as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(acme.total);
    const globex = await listed(keys.globex);
    expect(globex.deadLetters.map((d: any) => d.subject)).not.toContain(ownedSubject);
    expect(globex.deadLetters.map((d: any) => d.subject)).not.toContain(orphanSubject);
    expect((await gw("GET", `${DEAD_LETTERS_PATH}?limit=100&consumer=manifest`, keys.acme)).body.deadLetters.every((d: any) => d.consumer === "manifest")).toBe(true);

    const [mine] = owned;
    expect((await gw("GET", `${DEAD_LETTERS_PATH}/${mine.seq}`, keys.acme)).body).toMatchObject({ seq: mine.seq, json: { tenant: "acme" } });
    for (const [method, path] of [["GET", `${DEAD_LETTERS_PATH}/${mine.seq}`], ["POST", `${DEAD_LETTERS_PATH}/${mine.seq}/replay`]] as const) {
      const res = await gw(method, path, keys.globex);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe("E_DEAD_LETTER_NOT_FOUND");
    }
    expect((await gw("GET", `${DEAD_LETTERS_PATH}/${orphans[0].seq}`, keys.acme)).status).toBe(404);
    expect((await gw("GET", `${DEAD_LETTERS_PATH}/${orphans[0].seq}`, BOOT)).status).toBe(200);

    const client = deadLetterServiceClient(sys.statusGrpcAddress);
    try {
      const seqs = async (key: string) => (await call<any>((cb) => client.listDeadLetters({ pageSize: 100 }, metadata(key), cb))).deadLetters.map((d: any) => Number(d.seq));
      expect(await seqs(keys.acme)).toEqual(expect.arrayContaining(owned.map((d) => d.seq)));
      expect(await seqs(keys.globex)).not.toContain(mine.seq);
      expect(await grpcError(call((cb) => client.getDeadLetter({ seq: String(mine.seq) }, metadata(keys.globex), cb)))).toEqual({ code: "NOT_FOUND", errorCode: "E_DEAD_LETTER_NOT_FOUND" });
      expect(await grpcError(call((cb) => client.replayDeadLetter({ seq: String(mine.seq) }, metadata(keys.globex), cb)))).toMatchObject({ code: "NOT_FOUND" });
    } finally {
      client.close();
    }
    // Its own tenant replays it (it is still not an event its consumer takes: it comes back).
    expect((await gw("POST", `${DEAD_LETTERS_PATH}/${mine.seq}/replay`, keys.acme)).status).toBe(202);
  });
});

describe("the admin API of keys", () => {
  it("a tenant's admin key manages its own tenant's keys; a bootstrap key every tenant's", async () => {
    const listed = async (key: string, query = "") => (await gw("GET", `/api/keys${query}`, key)).body.keys as any[];
    const acmeKeys = await listed(keys.acme);
    expect(new Set(acmeKeys.map((k) => k.tenant))).toEqual(new Set(["acme"]));
    expect(acmeKeys.length).toBeGreaterThanOrEqual(3);
    for (const k of acmeKeys) expect(Object.keys(k).sort()).toEqual(["createdAt", "expiresAt", "id", "lastUsedAt", "prefix", "revokedAt", "scopes", "tenant"]);
    expect(new Set((await listed(BOOT)).map((k) => k.tenant))).toEqual(new Set(["acme", "globex"]));
    expect(new Set((await listed(BOOT, "?tenant=globex")).map((k) => k.tenant))).toEqual(new Set(["globex"]));

    const other = await gw("POST", "/api/keys", keys.acme, { tenant: "globex", scopes: ["read"] });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe("E_FORBIDDEN");
    expect((await gw("GET", "/api/keys?tenant=globex", keys.acme)).status).toBe(403);
    const globexKey = (await listed(BOOT, "?tenant=globex"))[0];
    expect((await gw("DELETE", `/api/keys/${globexKey.id}`, keys.acme)).body.error.code).toBe("E_KEY_NOT_FOUND");

    const made = await gw("POST", "/api/keys", keys.acme, { scopes: "read", expires: "1d" });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ tenant: "acme", scopes: ["read"], prefix: made.body.key.slice(0, 12), revokedAt: null });
    expect(Date.parse(made.body.expiresAt) - Date.now()).toBeGreaterThan(86_000_000);
    expect((await gw("GET", JOBS_PATH, made.body.key)).status).toBe(200); // now in the gateway's cache
    const revoked = await gw("DELETE", `/api/keys/${made.body.id}`, keys.acme);
    expect(revoked.body).toMatchObject({ id: made.body.id, revokedAt: expect.any(String) });
    // Revoked here: this gateway forgets it at once, before its cache time runs out.
    expect((await gw("GET", JOBS_PATH, made.body.key)).status).toBe(401);

    for (const [body, code] of [
      [{ scopes: ["write"] }, "E_INVALID_SCOPES"],
      [{ scopes: [] }, "E_INVALID_SCOPES"],
      [{ scopes: ["read"], expires: "soon" }, "E_INVALID_EXPIRY"],
      [{ scopes: ["read"], tenant: "Not A Tenant" }, "E_INVALID_TENANT"],
      [["read"], "E_INVALID_BODY"],
    ] as const) {
      const res = await gw("POST", "/api/keys", keys.acme, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe(code);
    }
    expect((await gw("DELETE", "/api/keys/nope", keys.acme)).body.error.code).toBe("E_INVALID_KEY_ID");
  });
});

describe("veriflow keys (the CLI, on DATABASE_URL)", () => {
  // Building the CLI (in a clean clone, every library it uses too) is set-up: it gets set-up's time, not the test's.
  beforeAll(buildCli);
  it("create prints the key on its last line, and it works on every surface; list never prints it; after revoke it fails within AUTH_CACHE_TTL_MS", async () => {
    const env = { DATABASE_URL: sys.db.url };
    const created = await runCli(["keys", "create", "--tenant", "initech", "--scopes", "read,submit", "--expires", "30d"], env);
    expect(created.code, created.stderr).toBe(0);
    const lines = created.stdout.trimEnd().split("\n");
    const key = lines.at(-1)!;
    expect(key).toMatch(/^vfk_[A-Za-z0-9_-]{43}$/);
    expect(lines.slice(0, -1).join("\n")).not.toContain(key);
    expect(lines[0]).toMatch(/^created key [0-9a-f-]{36} \(vfk_.{8}…\) for tenant initech: scopes submit,read, expires \d{4}-/);

    const jobs = jobServiceClient(sys.statusGrpcAddress);
    const works = async () => ({
      gateway: (await gw("GET", JOBS_PATH, key)).status,
      status: (await api(sys.statusUrl, "GET", `${JOBS_PATH}/stats`, key)).status,
      webhooks: (await api(sys.webhooksUrl, "GET", `${JOBS_PATH}/${randomUUID()}/deliveries`, key)).status,
      grpc: (await grpcError(call((cb) => jobs.listJobs({}, metadata(key), cb))))?.code ?? "OK",
    });
    try {
      expect(await works()).toEqual({ gateway: 200, status: 200, webhooks: 200, grpc: "OK" });
      expect(await finishedJob(key)).toEqual(expect.any(String));

      const listed = await runCli(["keys", "list", "--tenant", "initech"], env);
      expect(listed.code).toBe(0);
      expect(listed.stdout).not.toContain(key);
      expect(listed.stdout).toContain(key.slice(0, 12));
      const [record] = JSON.parse((await runCli(["keys", "list", "--tenant", "initech", "--json"], env)).stdout).keys;
      expect(record).toMatchObject({ tenant: "initech", scopes: ["submit", "read"], prefix: key.slice(0, 12), revokedAt: null, lastUsedAt: expect.any(String) });
      expect(JSON.stringify(record)).not.toContain(key);

      const revoked = await runCli(["keys", "revoke", record.id], env);
      expect(revoked.code, revoked.stderr).toBe(0);
      const revokedAt = Date.now();
      // Every service refuses it once its cache time ran out (they cached it a moment ago).
      await new Promise((r) => setTimeout(r, CACHE_TTL_MS + 100 - (Date.now() - revokedAt)));
      expect(await works()).toEqual({ gateway: 401, status: 401, webhooks: 401, grpc: "UNAUTHENTICATED" });
      expect((await gw("GET", JOBS_PATH, key)).body.error.message).toMatch(/was revoked$/);
    } finally {
      jobs.close();
    }
  });
});
