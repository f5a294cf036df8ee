import { randomUUID } from "node:crypto";
import { JobType, jobStatuses, statusRank, type AnyEnvelope, type JobStatus } from "@veriflow/events";
import { describe, expect, it } from "vitest";
import { jobEvents } from "./job-events.fixture.js";
import { MAX_RETRY_COUNT } from "./projection.js";
import { countByStatus, countJobs } from "./job-counts.js";
import { queryJobs, type JobPageRequest } from "./job-list.js";
import { useStatusDatabase } from "./status-database.fixture.js";
import { applyEvents, getJob, getJobEvents, getTenantJob, type Job } from "./store.js";

const db = useStatusDatabase();

/** The job without its write bookkeeping, to compare states reached by different paths. */
const state = ({ updatedAt: _, ...job }: Job) => job;
const mustGet = async (id: string) => (await getJob(db.sql, id))!;

describe("applyEvents", () => {
  it("projects a whole job from one batch", async () => {
    const j = jobEvents({ attempts: 2 });
    const r = await applyEvents(db.sql, [j.requested, j.hashed, j.checked, j.completed]);
    expect(r).toEqual({ applied: 4, jobIds: [j.jobId], ended: [{ type: "verify", outcome: "completed", seconds: 4 }], completedBatches: [] });
    const job = await mustGet(j.jobId);
    expect(job).toMatchObject({
      id: j.jobId,
      type: "verify",
      status: "completed",
      progress: 100,
      contentHash: j.contentHash.toLowerCase(),
      manifestUri: j.request.manifestUri,
      registryAddress: j.request.registryAddress,
      rpcUrl: null,
      fileName: "photo.jpg",
      fileSize: 1234,
      result: j.completed.data.result,
      error: null,
      retryCount: 3,
    });
    expect(job.createdAt.toISOString()).toBe(j.requested.occurredAt);
    expect(job.startedAt?.toISOString()).toBe(j.hashed.data.startedAt);
    expect(job.completedAt?.toISOString()).toBe(j.completed.occurredAt);
    expect(job.lastEventAt.toISOString()).toBe(j.completed.occurredAt);
  });

  it("is idempotent: the same batch twice leaves the same state", async () => {
    const j = jobEvents({ attempts: 2 });
    const batch = [j.requested, j.hashed, j.checked];
    await applyEvents(db.sql, batch);
    const once = await mustGet(j.jobId);
    expect(await applyEvents(db.sql, batch)).toEqual({ applied: 0, jobIds: [], ended: [], completedBatches: [] });
    const twice = await mustGet(j.jobId);
    expect(state(twice)).toEqual(state(once));
    expect(twice.retryCount).toBe(2);
    expect(await getJobEvents(db.sql, j.jobId)).toHaveLength(3);
  });

  it("counts an event once when a batch carries it twice, or mixes it with new ones", async () => {
    const j = jobEvents({ attempts: 3 });
    await applyEvents(db.sql, [j.requested, j.hashed, j.hashed]);
    expect((await mustGet(j.jobId)).retryCount).toBe(2);
    const r = await applyEvents(db.sql, [j.hashed, j.checked]);
    expect(r.applied).toBe(1);
    expect(await mustGet(j.jobId)).toMatchObject({ retryCount: 4, progress: 50 });
  });

  it("reaches the same state whether events come in order, reversed, or one per batch", async () => {
    const events = (j: ReturnType<typeof jobEvents>) => [j.requested, j.hashed, j.checked, j.completed];
    const a = jobEvents({ attempts: 2 });
    const b = jobEvents({ jobId: a.jobId, attempts: 2 });
    await applyEvents(db.sql, events(a));
    const inOrder = await mustGet(a.jobId);
    await db.sql`truncate verification_jobs, verification_job_events`;
    for (const e of events(b).reverse()) await applyEvents(db.sql, [e]);
    const reversed = await mustGet(a.jobId);
    expect(state(reversed)).toEqual(state(inOrder));
    await db.sql`truncate verification_jobs, verification_job_events`;
    await applyEvents(db.sql, [b.checked, b.requested]);
    await applyEvents(db.sql, [b.completed, b.hashed]);
    expect(state(await mustGet(a.jobId))).toEqual(state(inOrder));
  });

  it("never moves a stored job backwards", async () => {
    const j = jobEvents();
    await applyEvents(db.sql, [j.checked]);
    await applyEvents(db.sql, [j.hashed, j.requested]);
    expect(await mustGet(j.jobId)).toMatchObject({ status: "processing", progress: 50, type: "verify", fileName: "photo.jpg" });
    await applyEvents(db.sql, [j.completed]);
    await applyEvents(db.sql, [jobEvents({ jobId: j.jobId }).hashed]); // same id: a redelivery
    expect(await mustGet(j.jobId)).toMatchObject({ status: "completed", progress: 100 });
  });

  it("records one terminal event per job: a later one with the job's terminal id is not recorded", async () => {
    const j = jobEvents();
    await applyEvents(db.sql, [j.requested, j.hashed, j.completed]);
    expect(j.failed().id).toBe(j.completed.id);
    expect(await applyEvents(db.sql, [j.failed()])).toEqual({ applied: 0, jobIds: [], ended: [], completedBatches: [] });
    expect(await mustGet(j.jobId)).toMatchObject({ status: "completed", error: null, retryCount: 0 });

    // In one batch, the first wins too (not the last of the same id).
    const k = jobEvents();
    await applyEvents(db.sql, [k.requested, k.failed("manifest", 2), k.completed]);
    expect(await mustGet(k.jobId)).toMatchObject({ status: "failed", result: null, error: { stage: "manifest", attempts: 2 } });
    expect((await getJobEvents(db.sql, k.jobId)).map((e) => e.type)).toEqual(["verification.requested", "verification.failed"]);
  });

  it("stores what PostgreSQL cannot hold (NUL, a lone surrogate) with U+FFFD instead of failing the batch", async () => {
    const j = jobEvents();
    const k = jobEvents();
    const poisoned = { ...j.requested, data: { ...j.requested.data, upload: { ...j.requested.data.upload!, fileName: "a\u0000b.jpg", contentType: "x/\uD800" } } };
    const r = await applyEvents(db.sql, [poisoned, k.requested, k.hashed]);
    expect(r.applied).toBe(3);
    expect((await mustGet(j.jobId)).fileName).toBe("a\uFFFDb.jpg");
    expect((await getJobEvents(db.sql, j.jobId))[0]!.data).toMatchObject({ upload: { fileName: "a\uFFFDb.jpg", contentType: "x/\uFFFD" } });
    expect(await mustGet(k.jobId)).toMatchObject({ status: "processing" });
  });

  it("saturates the retry count the integer column holds, so a job's later events, its ending too, are still applied", async () => {
    // The schema admits any positive attempts; a content.hashed with 2^31 - 1 of them made the
    // failure's retry count overflow, the failure was refused, and the job stayed processing.
    const j = jobEvents({ attempts: MAX_RETRY_COUNT });
    await applyEvents(db.sql, [j.requested, j.hashed]);
    expect(await mustGet(j.jobId)).toMatchObject({ status: "processing", retryCount: MAX_RETRY_COUNT - 1 });
    expect((await applyEvents(db.sql, [j.failed("manifest", 5, j.hashed)])).applied).toBe(1);
    expect(await mustGet(j.jobId)).toMatchObject({ status: "failed", retryCount: MAX_RETRY_COUNT });
    const k = jobEvents({ attempts: Number.MAX_SAFE_INTEGER });
    expect((await applyEvents(db.sql, [k.requested, k.hashed, k.checked, k.completed])).applied).toBe(4);
    expect(await mustGet(k.jobId)).toMatchObject({ status: "completed", retryCount: MAX_RETRY_COUNT });
  });

  it("keeps the first terminal outcome: a later failure does not undo a completion", async () => {
    const j = jobEvents();
    await applyEvents(db.sql, [j.requested, j.hashed, j.completed]);
    // Terminal events of other ids (published before terminal ids were shared): the row's rule still holds.
    const failed = { ...j.failed(), id: randomUUID() };
    await applyEvents(db.sql, [failed]);
    const job = await mustGet(j.jobId);
    expect(job).toMatchObject({ status: "completed", progress: 100, error: null, result: j.completed.data.result });
    expect(job.completedAt?.toISOString()).toBe(j.completed.occurredAt);
    expect(job.retryCount).toBe(2); // the failure's attempts still count as retries

    const k = jobEvents();
    await applyEvents(db.sql, [k.requested, k.checked, k.failed("chain-check", 5)]);
    await applyEvents(db.sql, [{ ...k.completed, id: randomUUID() }, k.hashed]);
    expect(await mustGet(k.jobId)).toMatchObject({
      status: "failed",
      progress: 50,
      result: null,
      error: { stage: "chain-check", code: "E_RPC_UNAVAILABLE", message: "rpc endpoint unreachable", attempts: 5 },
    });
  });

  it("creates the row from whichever event comes first", async () => {
    const j = jobEvents();
    await applyEvents(db.sql, [j.completed]);
    expect(await mustGet(j.jobId)).toMatchObject({ status: "completed", type: "verify", manifestUri: null, fileName: null });
    await applyEvents(db.sql, [j.requested]);
    const job = await mustGet(j.jobId);
    expect(job).toMatchObject({ status: "completed", manifestUri: j.request.manifestUri, fileName: "photo.jpg" });
    expect(job.createdAt.toISOString()).toBe(j.requested.occurredAt);
  });

  it("keeps concurrent batches over the same jobs consistent", async () => {
    const jobs = Array.from({ length: 20 }, () => jobEvents());
    const all: AnyEnvelope[] = jobs.flatMap((j) => [j.requested, j.hashed, j.checked, j.completed]);
    await Promise.all([applyEvents(db.sql, all), applyEvents(db.sql, [...all].reverse()), applyEvents(db.sql, all.slice(10))]);
    const counts = await countByStatus(db.sql, "default");
    expect(counts).toEqual({ queued: 0, processing: 0, completed: 20, failed: 0 });
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from verification_job_events`;
    expect(row?.n).toBe(80);
  });

  it("ignores an empty batch", async () => {
    expect(await applyEvents(db.sql, [])).toEqual({ applied: 0, jobIds: [], ended: [], completedBatches: [] });
  });
});

describe("applyEvents across runs (retries)", () => {
  const retried = () => {
    const j = jobEvents({ attempts: 2 });
    const failed = j.failed("manifest", 2, j.hashed);
    return { j, failed, run2: j.rerun(2, failed) };
  };

  it("takes a failed job back to processing for its retry, finishes it with the retry's outcome, and keeps every run's events", async () => {
    const { j, failed, run2 } = retried();
    await applyEvents(db.sql, [j.requested, j.hashed, failed]);
    expect(await mustGet(j.jobId)).toMatchObject({ run: 1, status: "failed", error: { stage: "manifest" } });
    await applyEvents(db.sql, [run2.hashed]);
    const back = await mustGet(j.jobId);
    expect(back).toMatchObject({ run: 2, status: "processing", progress: 10, error: null, result: null, completedAt: null });
    await applyEvents(db.sql, [run2.checked, run2.completed]);
    const done = await mustGet(j.jobId);
    expect(done).toMatchObject({ run: 2, status: "completed", progress: 100, result: j.completed.data.result, error: null });
    expect(done.completedAt?.toISOString()).toBe(run2.completed.occurredAt);
    const history = await getJobEvents(db.sql, j.jobId);
    expect(history.map((e) => [e.type, e.run])).toEqual([
      ["verification.requested", 1],
      ["content.hashed", 1],
      ["verification.failed", 1],
      ["content.hashed", 2],
      ["manifest.checked", 2],
      ["verification.completed", 2],
    ]);
  });

  it("ends each run once, timed from the run's start: submission for run 1, its first event for a retry", async () => {
    const { j, failed, run2 } = retried();
    const first = await applyEvents(db.sql, [j.requested, j.hashed]);
    expect(first.ended).toEqual([]);
    expect((await applyEvents(db.sql, [failed])).ended).toEqual([{ type: "verify", outcome: "failed", seconds: 5 }]);
    expect((await applyEvents(db.sql, [failed])).ended).toEqual([]);
    expect((await applyEvents(db.sql, [run2.hashed, run2.checked])).ended).toEqual([]);
    expect((await applyEvents(db.sql, [run2.completed, failed])).ended).toEqual([{ type: "verify", outcome: "completed", seconds: 2 }]);
    expect((await applyEvents(db.sql, [run2.completed])).ended).toEqual([]);
  });

  it("agrees with the fold, whatever the batches and their order; an earlier run's late event changes nothing", async () => {
    const { j, failed, run2 } = retried();
    const events = [j.requested, j.hashed, failed, run2.hashed, run2.checked, run2.completed];
    await applyEvents(db.sql, events);
    const together = state(await mustGet(j.jobId));
    expect(together).toMatchObject({ run: 2, status: "completed" });
    for (const order of [[...events].reverse(), [events[3]!, events[5]!, events[0]!, events[2]!, events[4]!, events[1]!]]) {
      await db.sql`truncate verification_jobs, verification_job_events`;
      for (const e of order) await applyEvents(db.sql, [e]);
      expect(state(await mustGet(j.jobId))).toEqual(together);
    }
    // Run 1 completing late (say a redelivery from before the failure) leaves run 2 as it is.
    await applyEvents(db.sql, [j.checked, j.completed]);
    expect(await mustGet(j.jobId)).toMatchObject({ run: 2, status: "completed", result: j.completed.data.result, completedAt: new Date(run2.completed.occurredAt) });
  });
});

describe("queries", () => {
  const ids = async (tenant: string, page: JobPageRequest, status?: JobStatus) =>
    (await queryJobs(db.sql, tenant, status ? { status } : {}, page)).jobs.map((j) => j.id);

  /** Five jobs created a minute apart: 0-1 queued, 2 processing, 3 completed, 4 failed. */
  async function seed() {
    const jobs = Array.from({ length: 5 }, (_, i) => jobEvents({ t0: new Date(Date.UTC(2025, 0, 1, 0, i)) }));
    const [q1, q2, p, c, f] = jobs as [typeof jobs[0], typeof jobs[0], typeof jobs[0], typeof jobs[0], typeof jobs[0]];
    await applyEvents(db.sql, [q1.requested, q2.requested, p.requested, p.hashed, c.requested, c.completed, f.requested, f.failed()]);
    return jobs;
  }

  it("lists newest first with the total, paged", async () => {
    const jobs = await seed();
    const newestFirst = jobs.map((j) => j.jobId).reverse();
    expect(await countJobs(db.sql, "default")).toBe(5);
    expect(await ids("default", { limit: 20 })).toEqual(newestFirst);
    expect(await ids("default", { limit: 2, offset: 2 })).toEqual(newestFirst.slice(2, 4));
    expect(await queryJobs(db.sql, "default", {}, { limit: 2, offset: 10 })).toEqual({ jobs: [], next: null });
  });

  it("filters by status", async () => {
    const jobs = await seed();
    expect(await countJobs(db.sql, "default", "queued")).toBe(2);
    expect(await ids("default", { limit: 1 }, "queued")).toEqual([jobs[1]!.jobId]);
    expect((await queryJobs(db.sql, "default", { status: "failed" }, { limit: 10 })).jobs[0]?.error?.stage).toBe("chain-check");
  });

  it("orders jobs created at the same instant by id, so pages never overlap", async () => {
    const t0 = new Date("2025-02-01T00:00:00Z");
    const jobs = Array.from({ length: 6 }, () => jobEvents({ t0 }));
    await applyEvents(db.sql, jobs.map((j) => j.requested));
    const pages = await Promise.all([0, 2, 4].map((offset) => ids("default", { limit: 2, offset })));
    expect(pages.flat()).toEqual(jobs.map((j) => j.jobId).sort().reverse());
  });

  it("counts jobs by status", async () => {
    expect(await countByStatus(db.sql, "default")).toEqual({ queued: 0, processing: 0, completed: 0, failed: 0 });
    await seed();
    expect(await countByStatus(db.sql, "default")).toEqual({ queued: 2, processing: 1, completed: 1, failed: 1 });
  });

  it("keeps each tenant's jobs to itself: get, list, count and query", async () => {
    const mine = jobEvents({ tenant: "acme" });
    const theirs = jobEvents({ tenant: "globex" });
    const old = jobEvents(); // tenant default: events from before tenants read the same
    await applyEvents(db.sql, [mine.requested, mine.completed, theirs.requested, old.requested]);
    expect(await mustGet(mine.jobId)).toMatchObject({ tenant: "acme" });
    expect(await getTenantJob(db.sql, mine.jobId, "acme")).toMatchObject({ id: mine.jobId });
    expect(await getTenantJob(db.sql, mine.jobId, "globex")).toBeNull();
    expect(await ids("acme", { limit: 20 })).toEqual([mine.jobId]);
    expect(await countJobs(db.sql, "globex", "completed")).toBe(0);
    expect(await countByStatus(db.sql, "acme")).toEqual({ queued: 0, processing: 0, completed: 1, failed: 0 });
    expect(await countByStatus(db.sql, "default")).toEqual({ queued: 1, processing: 0, completed: 0, failed: 0 });
    expect(await ids("globex", { limit: 10 })).toEqual([theirs.jobId]);
    // A later event cannot move a job to another tenant: the first one seen is kept.
    const forged = jobEvents({ jobId: mine.jobId, tenant: "globex" });
    await applyEvents(db.sql, [forged.hashed]);
    expect(await mustGet(mine.jobId)).toMatchObject({ tenant: "acme" });
  });

  it("returns a job's events oldest first, and null for an unknown job", async () => {
    const j = jobEvents();
    await applyEvents(db.sql, [j.completed, j.requested, j.checked, j.hashed]);
    const events = await getJobEvents(db.sql, j.jobId);
    expect(events.map((e) => e.type)).toEqual(["verification.requested", "content.hashed", "manifest.checked", "verification.completed"]);
    expect(events[1]).toMatchObject({ id: j.hashed.id, causationId: j.requested.id, data: j.hashed.data });
    expect(events[0]!.occurredAt.toISOString()).toBe(j.requested.occurredAt);
    expect(await getJob(db.sql, "00000000-0000-4000-8000-000000000000")).toBeNull();
    expect(await getJobEvents(db.sql, "00000000-0000-4000-8000-000000000000")).toEqual([]);
  });
});

/**
 * SQL cannot import the TypeScript definitions, and a migration cannot follow them (it is
 * checksummed once applied), so the migrated database is checked against them instead:
 * change jobStatuses or statusRank without a migration that matches, and this fails.
 */
describe("the migrated schema agrees with @veriflow/events", () => {
  it("ranks every status as statusRank does (the order the upsert keeps)", async () => {
    const rows = await db.sql<{ status: JobStatus; rank: number }[]>`
      select s as status, verification_job_status_rank(s) as rank from unnest(${db.sql.array([...jobStatuses])}::text[]) as s`;
    expect(Object.fromEntries(rows.map((r) => [r.status, r.rank]))).toEqual(Object.fromEntries(jobStatuses.map((s) => [s, statusRank(s)])));
  });

  it("stores every status and job type, and nothing else", async () => {
    const insert = (id: string, status: string, type: string | null) => db.sql`
      insert into verification_jobs (id, type, status, created_at, last_event_at) values (${id}, ${type}, ${status}, now(), now())`;
    for (const s of jobStatuses) await insert(`status-${s}`, s, null);
    for (const t of JobType.options) await insert(`type-${t}`, "queued", t);
    await expect(insert("status-unknown", "running", null)).rejects.toMatchObject({ code: "23514" });
    await expect(insert("type-unknown", "queued", "audit")).rejects.toMatchObject({ code: "23514" });
  });
});
