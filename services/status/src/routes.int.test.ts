import { fileURLToPath } from "node:url";
import { createAuthenticator, issueApiKey, runAuthMigrations, type Scope } from "@veriflow/auth";
import { JOBS_PATH, type AnyEnvelope } from "@veriflow/events";
import { connectPostgres } from "@veriflow/pg";
import { createSilentLogger } from "@veriflow/platform";
import { listen, type HttpServerHandle } from "@veriflow/http";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { jobEvents } from "./job-events.fixture.js";
import { createStatusApp, type StatusAppDeps } from "./routes.js";
import { applyEvents, getJob, getJobEvents } from "./store.js";

const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));
const UNKNOWN = "00000000-0000-4000-8000-000000000000";

let db: TestDatabase;
let server: HttpServerHandle;
let base: string;
/** What the fake stream holds, per job id; swapped per test. */
let stream: { requests: Map<string, AnyEnvelope>; available: boolean; broken: boolean };

/** Keys checked against this database's api_keys (none: open, as in development), never cached. */
const authenticator = (bootstrapKeys: string[] = []) =>
  createAuthenticator({ sql: db.sql, config: { bootstrapKeys, openWhenNoKeys: true, cacheTtlMs: 0, production: false }, log: createSilentLogger() });

beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir });
  await runAuthMigrations(db.sql);
  const app = createStatusApp({
    sql: db.sql,
    log: createSilentLogger(),
    authenticator: authenticator(),
    findRequestedEvent: async (jobId) => {
      if (stream.broken) throw new Error("nats: timeout");
      return stream.requests.get(jobId) ?? null;
    },
    isStreamAvailable: async () => stream.available,
  });
  server = await listen(app, 0, "127.0.0.1");
  base = `http://127.0.0.1:${server.port}${JOBS_PATH}`;
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});
beforeEach(async () => {
  stream = { requests: new Map(), available: true, broken: false };
  await db.sql`truncate verification_jobs, verification_job_events, api_keys`;
});

async function get(path: string, init?: RequestInit) {
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

describe(`GET ${JOBS_PATH}/:jobId`, () => {
  it("answers a completed job in the old API's shape", async () => {
    const j = jobEvents({ attempts: 2 });
    await applyEvents(db.sql, [j.requested, j.hashed, j.checked, j.completed]);
    const { status, body, headers } = await get(`/${j.jobId}`);
    expect(status).toBe(200);
    expect(headers.get("cache-control")).toBe("no-store");
    expect(body).toEqual({
      id: j.jobId,
      jobId: j.jobId,
      run: 1,
      type: "verify",
      status: "completed",
      progress: 100,
      contentHash: j.contentHash.toLowerCase(),
      manifestUri: j.request.manifestUri,
      registryAddress: j.request.registryAddress,
      priority: "interactive",
      fileName: "photo.jpg",
      fileSize: 1234,
      result: j.completed.data.result,
      resultHistory: [],
      error: null,
      failure: null,
      retryCount: 3,
      createdAt: j.requested.occurredAt,
      startedAt: j.hashed.data.startedAt,
      completedAt: j.completed.occurredAt,
      updatedAt: expect.any(String),
    });
  });

  it("answers a failed job's error as a string, with the details under failure", async () => {
    const j = jobEvents();
    await applyEvents(db.sql, [j.requested, j.hashed, j.failed("manifest", 3, j.hashed)]);
    const { body } = await get(`/${j.jobId}`);
    expect(body).toMatchObject({
      status: "failed",
      progress: 10,
      result: null,
      error: "rpc endpoint unreachable",
      failure: { stage: "manifest", code: "E_RPC_UNAVAILABLE", message: "rpc endpoint unreachable", attempts: 3 },
      retryCount: 2,
    });
  });

  it("answers a job the projection has not seen yet from its request on the stream", async () => {
    const j = jobEvents();
    stream.requests.set(j.jobId, j.requested);
    const { status, body } = await get(`/${j.jobId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: j.jobId, status: "queued", progress: 0, type: "verify", manifestUri: j.request.manifestUri });
    // It was projected through the store: the consumer's own copy later changes nothing.
    expect(await getJob(db.sql, j.jobId)).toMatchObject({ status: "queued" });
    expect(await applyEvents(db.sql, [j.requested])).toEqual({ applied: 0, jobIds: [], ended: [], completedBatches: [] });
    expect(await getJobEvents(db.sql, j.jobId)).toHaveLength(1);
  });

  it("accepts an upper-case uuid", async () => {
    const j = jobEvents();
    stream.requests.set(j.jobId, j.requested);
    expect((await get(`/${j.jobId.toUpperCase()}`)).body).toMatchObject({ id: j.jobId });
  });

  it("answers 404 for a job neither projected nor on the stream", async () => {
    const { status, body, headers } = await get(`/${UNKNOWN}`);
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: "E_JOB_NOT_FOUND", message: `no job ${UNKNOWN}` }, requestId: headers.get("x-request-id") });
  });

  it("ignores a stream answer that is not this job's request", async () => {
    const other = jobEvents();
    stream.requests.set(UNKNOWN, other.requested);
    expect((await get(`/${UNKNOWN}`)).status).toBe(404);
    expect(await getJob(db.sql, other.jobId)).toBeNull();
  });

  it("answers 503 when the job is unknown and the stream cannot be read", async () => {
    stream.broken = true;
    const { status, body } = await get(`/${UNKNOWN}`);
    expect(status).toBe(503);
    expect(body.error.code).toBe("E_STREAM_UNAVAILABLE");
  });

  it("rejects a job id that is not a uuid with 400, before any lookup", async () => {
    for (const id of ["abc", "1%20or%201=1", "00000000-0000-4000-8000-00000000000Z", "x".repeat(300)]) {
      const { status, body } = await get(`/${id}`);
      expect(status, id).toBe(400);
      expect(body.error.code).toBe("E_INVALID_JOB_ID");
    }
  });
});

describe(`GET ${JOBS_PATH}/:jobId/history`, () => {
  it("lists the job's events in order", async () => {
    const j = jobEvents();
    await applyEvents(db.sql, [j.checked, j.requested, j.hashed]);
    const { status, body } = await get(`/${j.jobId}/history`);
    expect(status).toBe(200);
    expect(body.jobId).toBe(j.jobId);
    expect(body.events.map((e: { type: string }) => e.type)).toEqual(["verification.requested", "content.hashed", "manifest.checked"]);
    expect(body.events[0]).toEqual({
      id: j.requested.id,
      type: "verification.requested",
      run: 1,
      occurredAt: j.requested.occurredAt,
      causationId: null,
      data: j.requested.data,
      recordedAt: expect.any(String),
    });
  });

  it("answers 404 for an unknown job and 400 for a bad id", async () => {
    expect((await get(`/${UNKNOWN}/history`)).body.error.code).toBe("E_JOB_NOT_FOUND");
    expect((await get(`/nope/history`)).status).toBe(400);
  });
});

describe(`GET ${JOBS_PATH}`, () => {
  async function seed(n: number) {
    const jobs = Array.from({ length: n }, (_, i) => jobEvents({ t0: new Date(Date.UTC(2025, 0, 1, 0, 0, i)) }));
    await applyEvents(db.sql, jobs.map((j) => j.requested));
    return jobs.map((j) => j.jobId).reverse(); // newest first
  }

  it("pages newest first with the total in count and total", async () => {
    const ids = await seed(25);
    const first = await get("");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ count: 25, total: 25, limit: 20, offset: 0 });
    expect(first.body.jobs.map((j: { id: string }) => j.id)).toEqual(ids.slice(0, 20));
    const second = await get("?limit=20&offset=20");
    expect(second.body).toMatchObject({ count: 25, total: 25, limit: 20, offset: 20 });
    expect(second.body.jobs.map((j: { id: string }) => j.id)).toEqual(ids.slice(20));
  });

  it("caps limit at 100", async () => {
    await seed(105);
    const { status, body } = await get("?limit=1000");
    expect(status).toBe(200);
    expect(body).toMatchObject({ limit: 100, total: 105 });
    expect(body.jobs).toHaveLength(100);
  });

  it("filters by status", async () => {
    const j = jobEvents();
    await seed(3);
    await applyEvents(db.sql, [j.requested, j.completed]);
    const { body } = await get("?status=completed");
    expect(body).toMatchObject({ count: 1, total: 1 });
    expect(body.jobs[0]).toMatchObject({ id: j.jobId, status: "completed" });
    expect((await get("?status=queued&limit=0")).body).toMatchObject({ jobs: [], total: 3 });
  });

  it("finds a job by content hash (any case) and filters by type, without a total the counters cannot give", async () => {
    await seed(3);
    const proof = jobEvents({ jobType: "proof" });
    await applyEvents(db.sql, [proof.requested, proof.hashed]);
    const hash = proof.hashed.data.contentHash;
    const byHash = await get(`?contentHash=${hash.toUpperCase().replace("0X", "0x")}`);
    expect(byHash.status).toBe(200);
    expect(byHash.body).toMatchObject({ total: null, count: null, nextCursor: null });
    expect(byHash.body.jobs.map((j: { id: string }) => j.id)).toEqual([proof.jobId]);
    expect((await get(`?contentHash=0x${"e".repeat(64)}`)).body.jobs).toEqual([]);
    const proofs = await get("?type=proof&status=processing");
    expect(proofs.body.jobs.map((j: { id: string }) => j.id)).toEqual([proof.jobId]);
    expect((await get("?type=verify")).body.jobs).toHaveLength(3);
  });

  it("pages by cursor: every job once, newest first, while jobs are added before and after the page", async () => {
    const ids = await seed(25);
    const seen: string[] = [];
    let page = await get("?limit=7");
    let added = 0;
    for (;;) {
      expect(page.status).toBe(200);
      expect(page.body).toMatchObject({ limit: 7, offset: added === 0 ? 0 : null });
      seen.push(...page.body.jobs.map((j: { id: string }) => j.id));
      if (page.body.nextCursor === null) break;
      // A job newer than every page (a new submission) and one older than all (a late event of
      // an old job) arrive between pages: the first is never on a later page, the second is, once.
      const newer = jobEvents({ t0: new Date(Date.UTC(2025, 1, 1, 0, 0, added)) });
      const older = jobEvents({ t0: new Date(Date.UTC(2024, 0, 1, 0, 0, 59 - added)) });
      await applyEvents(db.sql, [newer.requested, older.requested]);
      ids.push(older.jobId);
      added += 2;
      page = await get(`?limit=7&cursor=${encodeURIComponent(page.body.nextCursor)}`);
    }
    expect(added).toBeGreaterThan(0);
    expect(seen).toEqual(ids);
    expect(page.body.total).toBe(25 + added); // the counters count what is there now
  });

  it("still pages by offset for the old API's clients, and says there where the next page starts", async () => {
    const ids = await seed(12);
    const byOffset = await get("?limit=5&offset=5");
    expect(byOffset.body).toMatchObject({ count: 12, total: 12, limit: 5, offset: 5, nextCursor: expect.any(String) });
    expect(byOffset.body.jobs.map((j: { id: string }) => j.id)).toEqual(ids.slice(5, 10));
    const next = await get(`?limit=5&cursor=${byOffset.body.nextCursor}`);
    expect(next.body.jobs.map((j: { id: string }) => j.id)).toEqual(ids.slice(10));
    expect(next.body.nextCursor).toBeNull();
    expect((await get("?limit=12")).body.nextCursor).toBeNull();
    expect((await get("?limit=5&offset=0&cursor=" + byOffset.body.nextCursor)).status).toBe(200);
  });

  it("keeps the status filter on every cursor page, with its total", async () => {
    await seed(4);
    const done = Array.from({ length: 5 }, (_, i) => jobEvents({ t0: new Date(Date.UTC(2025, 0, 2, 0, 0, i)) }));
    await applyEvents(db.sql, done.flatMap((j) => [j.requested, j.completed]));
    const first = await get("?status=completed&limit=3");
    const second = await get(`?status=completed&limit=3&cursor=${first.body.nextCursor}`);
    expect([...first.body.jobs, ...second.body.jobs].map((j: { id: string }) => j.id)).toEqual(done.map((j) => j.jobId).reverse());
    expect(second.body).toMatchObject({ total: 5, nextCursor: null });
  });

  it("rejects bad query parameters with 400 E_INVALID_QUERY", async () => {
    const cases: Array<[string, RegExp]> = [
      ["?status=done", /status must be one of queued, processing, completed, failed/],
      ["?limit=-1", /limit must be a non-negative integer/],
      ["?limit=abc", /limit must be a non-negative integer/],
      ["?limit=1.5", /limit must be a non-negative integer/],
      ["?offset=-3", /offset must be a non-negative integer/],
      ["?offset=99999999999999999999", /offset must be a non-negative integer/],
      ["?limit=1&limit=2", /limit may be given once/],
      ["?type=audit", /type must be one of verify, proof/],
      ["?contentHash=0x1234", /contentHash must be 0x followed by 64 hex digits/],
      ["?cursor=not-a-cursor", /cursor is not one this server issued/],
      [`?cursor=${Buffer.from(JSON.stringify({ c: "-010000-01-01T00:00:00.000Z", i: UNKNOWN })).toString("base64url")}`, /cursor is not one this server issued/],
      [`?offset=5&cursor=${Buffer.from(JSON.stringify({ c: "2025-01-01T00:00:00.000Z", i: UNKNOWN })).toString("base64url")}`, /give offset or cursor, not both/],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await get(query);
      expect(status, query).toBe(400);
      expect(body.error.code, query).toBe("E_INVALID_QUERY");
      expect(body.error.message, query).toMatch(message);
    }
    const both = await get("?status=x&limit=y");
    expect(both.body.error.details.problems).toHaveLength(2);
  });
});

describe(`GET ${JOBS_PATH}/stats`, () => {
  it("counts jobs by status and reports the stream's availability", async () => {
    const [a, b, c, d] = [jobEvents(), jobEvents(), jobEvents(), jobEvents()];
    await applyEvents(db.sql, [a.requested, b.requested, b.hashed, c.completed, d.failed()]);
    expect((await get("/stats")).body).toEqual({ available: true, waiting: 1, active: 1, completed: 1, failed: 1 });
    stream.available = false;
    expect((await get("/stats")).body).toMatchObject({ available: false });
  });
});

describe("HTTP edges", () => {
  it("answers unknown routes and methods with JSON errors", async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("E_NOT_FOUND");
    const post = await get("/stats", { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.body.error.code).toBe("E_METHOD_NOT_ALLOWED");
    expect(post.headers.get("allow")).toContain("GET");
  });

  it("echoes a sane x-request-id and replaces an unusable one", async () => {
    const mine = await get(`/${UNKNOWN}`, { headers: { "x-request-id": "req-42" } });
    expect(mine.headers.get("x-request-id")).toBe("req-42");
    expect(mine.body.requestId).toBe("req-42");
    const bad = await get("/stats", { headers: { "x-request-id": "a b\tc" } });
    expect(bad.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a database outage with 503 E_DATABASE_UNAVAILABLE and Retry-After, never its details", async () => {
    const broken = connectPostgres(db.url, { max: 1 });
    await broken.end();
    const deps: StatusAppDeps = {
      sql: broken,
      log: createSilentLogger(),
      findRequestedEvent: async () => null,
      isStreamAvailable: async () => true,
      authenticator: authenticator(["boot"]),
    };
    const s = await listen(createStatusApp(deps), 0, "127.0.0.1");
    try {
      const res = await fetch(`http://127.0.0.1:${s.port}${JOBS_PATH}/${UNKNOWN}`, { headers: { "x-api-key": "boot" } });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      const body = (await res.json()) as { error: unknown; requestId: unknown };
      expect(body.error).toEqual({ code: "E_DATABASE_UNAVAILABLE", message: "the database is not reachable right now; try again shortly" });
      expect(body.requestId).toEqual(expect.any(String));
    } finally {
      await s.close();
    }
  });

  it("answers any other database failure with a generic 500, never its details", async () => {
    const unmigrated = await createTestDatabase();
    const deps: StatusAppDeps = {
      sql: unmigrated.sql,
      log: createSilentLogger(),
      findRequestedEvent: async () => null,
      isStreamAvailable: async () => true,
      authenticator: authenticator(["boot"]),
    };
    const s = await listen(createStatusApp(deps), 0, "127.0.0.1");
    try {
      const res = await fetch(`http://127.0.0.1:${s.port}${JOBS_PATH}/${UNKNOWN}`, { headers: { "x-api-key": "boot" } });
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: unknown; requestId: unknown };
      expect(body.error).toEqual({ code: "E_INTERNAL", message: "internal server error" });
    } finally {
      await s.close();
      await unmigrated.drop();
    }
  });
});

describe("keys and tenants", () => {
  const keyFor = async (tenant: string, scopes: Scope[] = ["read"]) => (await issueApiKey(db.sql, { tenant, scopes, expiresAt: null })).key;
  const as = (key: string) => ({ headers: { "x-api-key": key } });

  it("answers nothing without a valid key once a key exists, not even an unknown path", async () => {
    await keyFor("acme");
    for (const path of ["", "/stats", `/${UNKNOWN}`, `/${UNKNOWN}/history`]) {
      const res = await get(path);
      expect(res.status, path).toBe(401);
      expect(res.body.error.code).toBe("E_UNAUTHORIZED");
    }
    expect((await fetch(`${base.replace(JOBS_PATH, "")}/nowhere`)).status).toBe(401);
    expect((await get("", as("vfk_" + "x".repeat(43)))).status).toBe(401);
  });

  it("shows a tenant its own jobs only: another's job is not found, lists and counts leave it out", async () => {
    const [acme, globex] = [await keyFor("acme"), await keyFor("globex")];
    const mine = jobEvents({ tenant: "acme" });
    const theirs = jobEvents({ tenant: "globex" });
    await applyEvents(db.sql, [mine.requested, mine.hashed, theirs.requested]);
    expect((await get(`/${mine.jobId}`, as(acme))).body).toMatchObject({ id: mine.jobId, status: "processing" });
    for (const path of [`/${mine.jobId}`, `/${mine.jobId}/history`]) {
      const res = await get(path, as(globex));
      expect(res.status, path).toBe(404);
      expect(res.body.error).toEqual({ code: "E_JOB_NOT_FOUND", message: `no job ${mine.jobId}` });
    }
    expect((await get("", as(globex))).body).toMatchObject({ total: 1, jobs: [{ id: theirs.jobId }] });
    expect((await get("/stats", as(globex))).body).toMatchObject({ waiting: 1, active: 0 });
    expect((await get("/stats", as(acme))).body).toMatchObject({ waiting: 0, active: 1 });
    // Not even through the stream: a request of another tenant is not projected on its behalf.
    const unseen = jobEvents({ tenant: "acme" });
    stream.requests.set(unseen.jobId, unseen.requested);
    expect((await get(`/${unseen.jobId}`, as(globex))).status).toBe(404);
    expect(await getJob(db.sql, unseen.jobId)).toBeNull();
  });

  it("reads need the read scope: 403 E_FORBIDDEN names it", async () => {
    const submitOnly = await keyFor("acme", ["submit"]);
    const res = await get("", as(submitOnly));
    expect(res.status).toBe(403);
    expect(res.body.error).toEqual({ code: "E_FORBIDDEN", message: 'this API key lacks the "read" scope (it has submit)' });
  });
});
