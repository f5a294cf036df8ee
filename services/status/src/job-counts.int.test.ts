import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMigrations, type Sql } from "@veriflow/pg";
import { jobStatuses, type AnyEnvelope, type JobStatus } from "@veriflow/events";
import { createTestDatabase } from "@veriflow/testing";
import { describe, expect, it } from "vitest";
import { countByStatus, countJobs } from "./job-counts.js";
import { jobEvents } from "./job-events.fixture.js";
import { MIGRATIONS_DIR } from "./service.js";
import { useStatusDatabase } from "./status-database.fixture.js";
import { applyEvents, pruneJobs } from "./store.js";

// The counters (migration 006) against a real PostgreSQL: after anything the projection,
// retention or a hand-run statement does, they must equal a count(*) of the rows.
const db = useStatusDatabase();

const TENANTS = ["default", "acme", "globex"] as const;

/** What a count(*) says, per tenant and status (every status present). */
async function countedRows(sql: Sql): Promise<Record<string, Record<JobStatus, number>>> {
  const rows = await sql<{ tenant: string; status: JobStatus; n: number }[]>`
    select tenant, status, count(*)::integer as n from verification_jobs group by tenant, status`;
  const zero = () => Object.fromEntries(jobStatuses.map((s) => [s, 0])) as Record<JobStatus, number>;
  const out: Record<string, Record<JobStatus, number>> = Object.fromEntries(TENANTS.map((t) => [t, zero()]));
  for (const r of rows) (out[r.tenant] ??= zero())[r.status] = r.n;
  return out;
}

/** The counters agree with count(*) for every tenant, in every status and in all. */
async function expectCountersExact(sql = db.sql): Promise<Record<string, Record<JobStatus, number>>> {
  const counted = await countedRows(sql);
  for (const [tenant, byStatus] of Object.entries(counted)) {
    expect(await countByStatus(sql, tenant), tenant).toEqual(byStatus);
    expect(await countJobs(sql, tenant), tenant).toBe(Object.values(byStatus).reduce((a, b) => a + b, 0));
    for (const s of jobStatuses) expect(await countJobs(sql, tenant, s), `${tenant} ${s}`).toBe(byStatus[s]);
  }
  return counted;
}

/** A job's events in a shuffled order, some twice (redeliveries), for a tenant; every third one failed and retried. */
function jobStory(i: number, random: () => number): AnyEnvelope[] {
  const j = jobEvents({ tenant: TENANTS[i % TENANTS.length], t0: new Date(Date.UTC(2025, 0, 1, 0, 0, i)) });
  let events: AnyEnvelope[];
  if (i % 3 === 0) {
    const failed = j.failed("manifest", 2, j.hashed);
    const run2 = j.rerun(2, failed);
    events = [j.requested, j.hashed, failed, run2.hashed, ...(i % 2 === 0 ? [run2.checked, run2.completed] : [])];
  } else {
    // Stop anywhere on the way: queued, processing (hashed or checked), completed.
    events = [j.requested, j.hashed, j.checked, j.completed].slice(0, 1 + (i % 4));
  }
  const redelivered = events.filter(() => random() < 0.3);
  return [...events, ...redelivered].sort(() => random() - 0.5);
}

/** A seeded generator (mulberry32): a failing run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("job counters", () => {
  it("start at zero, and count a job once in the status it is in, whatever order its events come in", async () => {
    expect(await countByStatus(db.sql, "default")).toEqual({ queued: 0, processing: 0, completed: 0, failed: 0 });
    const j = jobEvents();
    await applyEvents(db.sql, [j.checked]);
    expect(await countByStatus(db.sql, "default")).toEqual({ queued: 0, processing: 1, completed: 0, failed: 0 });
    // Late, lower events change neither the row nor the counts.
    await applyEvents(db.sql, [j.requested, j.hashed]);
    expect(await countByStatus(db.sql, "default")).toEqual({ queued: 0, processing: 1, completed: 0, failed: 0 });
    await applyEvents(db.sql, [j.completed]);
    await applyEvents(db.sql, [j.completed, j.failed()]); // a redelivery, and a second terminal event
    expect(await countByStatus(db.sql, "default")).toEqual({ queued: 0, processing: 0, completed: 1, failed: 0 });
  });

  it("move a retried job from failed to its new run's status and on, once", async () => {
    const j = jobEvents({ tenant: "acme" });
    const failed = j.failed("manifest", 2, j.hashed);
    const run2 = j.rerun(2, failed);
    await applyEvents(db.sql, [j.requested, j.hashed, failed]);
    expect(await countByStatus(db.sql, "acme")).toMatchObject({ processing: 0, failed: 1 });
    await applyEvents(db.sql, [run2.hashed]);
    expect(await countByStatus(db.sql, "acme")).toMatchObject({ processing: 1, failed: 0 });
    // Run 1's late completion changes nothing; run 2's does.
    await applyEvents(db.sql, [j.checked, j.completed]);
    expect(await countByStatus(db.sql, "acme")).toMatchObject({ processing: 1, completed: 0 });
    await applyEvents(db.sql, [run2.checked, run2.completed, run2.hashed]);
    expect(await countByStatus(db.sql, "acme")).toEqual({ queued: 0, processing: 0, completed: 1, failed: 0 });
  });

  it("stay exact under redelivery, out-of-order events and concurrent batches over the same jobs", async () => {
    const random = seeded(20250101);
    const events = Array.from({ length: 120 }, (_, i) => jobStory(i, random)).flat();
    // Four writers at once, each with the whole stream in its own order and batching: every
    // event reaches the projection four times, batches overlap, rows are contended.
    const writers = Array.from({ length: 4 }, async (_, w) => {
      const mine = [...events].sort(() => random() - 0.5);
      for (let at = 0; at < mine.length; ) {
        const size = 1 + Math.floor(random() * 40);
        await applyEvents(db.sql, mine.slice(at, at + size));
        at += size;
      }
      return w;
    });
    await Promise.all(writers);
    const counted = await expectCountersExact();
    expect(Object.values(counted).flatMap((s) => Object.values(s)).reduce((a, b) => a + b)).toBe(120);
    // Folding keeps the table small: a few rows per tenant and status, however many batches wrote it.
    const [{ rows }] = await db.sql<[{ rows: number }]>`select count(*)::integer as rows from verification_job_counts`;
    expect(rows).toBeLessThanOrEqual(TENANTS.length * jobStatuses.length * 4);
  });

  it("stay exact when retention deletes finished jobs", async () => {
    const old = new Date(Date.now() - 3_600_000);
    for (let i = 0; i < 12; i++) {
      const j = jobEvents({ tenant: TENANTS[i % 3], t0: old });
      await applyEvents(db.sql, i % 4 === 0 ? [j.requested, j.hashed, j.failed("manifest", 1, j.hashed)] : i % 4 === 1 ? [j.requested] : [j.requested, j.completed]);
    }
    await expectCountersExact();
    expect((await pruneJobs(db.sql, "completed", 60_000, 100)).jobs).toBe(6);
    expect((await pruneJobs(db.sql, "failed", 60_000, 2)).jobs).toBe(2);
    const counted = await expectCountersExact();
    // One failed job is left (the batch of two took the others), and the three queued ones.
    const left = Object.values(counted);
    expect(left.map((s) => s.completed + s.failed).reduce((a, b) => a + b)).toBe(1);
    expect(left.map((s) => s.queued).reduce((a, b) => a + b)).toBe(3);
  });

  it("follow statements run by hand: a status set, a row deleted, the table truncated", async () => {
    const a = jobEvents();
    const b = jobEvents({ tenant: "globex" });
    await applyEvents(db.sql, [a.requested, b.requested, b.completed]);
    await db.sql`update verification_jobs set status = 'failed' where id = ${a.jobId}`;
    await db.sql`delete from verification_jobs where id = ${b.jobId}`;
    expect(await expectCountersExact()).toMatchObject({ default: { failed: 1, queued: 0 }, globex: { completed: 0 } });
    await db.sql`truncate verification_jobs`;
    expect(await countJobs(db.sql, "default")).toBe(0);
    const [{ rows }] = await db.sql<[{ rows: number }]>`select count(*)::integer as rows from verification_job_counts`;
    expect(rows).toBe(0);
  });
});

describe("the counters' migration", () => {
  it("counts the rows already there (backfill), and every write after it", async () => {
    // A database as it was before the counters: the migrations up to 005 only, plus the column
    // today's projection writes (010's result_history), so the rows can be written with it.
    const before = await mkdtemp(join(tmpdir(), "veriflow-migrations-"));
    for (const f of (await readdir(MIGRATIONS_DIR)).filter((f) => f < "006" || f.startsWith("010_"))) await copyFile(join(MIGRATIONS_DIR, f), join(before, f));
    const older = await createTestDatabase({ migrationsDir: before });
    try {
      const jobs = Array.from({ length: 9 }, (_, i) => jobEvents({ tenant: TENANTS[i % 3] }));
      // Today's projection also writes a job's batch (009) and priority (011), which that schema
      // lacks; those migrations add them only if missing.
      await older.sql`alter table verification_jobs add column batch_id text, add column priority text`;
      await applyEvents(older.sql, jobs.flatMap((j, i) => [j.requested, j.hashed, j.checked, j.completed].slice(0, 1 + (i % 4))));
      expect(await runMigrations(older.sql, MIGRATIONS_DIR)).toContain("006_job_counts.sql");
      expect(await expectCountersExact(older.sql)).toMatchObject({ default: { queued: 1, processing: 1, completed: 1 }, acme: { queued: 1, processing: 1, completed: 1 }, globex: { queued: 1, processing: 2, completed: 0 } });
      await applyEvents(older.sql, jobs.map((j) => j.completed));
      expect(await expectCountersExact(older.sql)).toMatchObject({ default: { completed: 3 }, acme: { completed: 3 }, globex: { completed: 3 } });
    } finally {
      await older.drop();
      await rm(before, { recursive: true, force: true });
    }
  });
});
