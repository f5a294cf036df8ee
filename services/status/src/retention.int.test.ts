import { connectPostgres, retentionDeleted, startRetention, type RetentionConfig } from "@veriflow/pg";
import { createSilentLogger } from "@veriflow/platform";
import { eventually, startNatsServer } from "@veriflow/testing";
import { describe, expect, it } from "vitest";
import { createEvent } from "@veriflow/events";
import { jobEvents } from "./job-events.fixture.js";
import { statusPruneSteps } from "./retention.js";
import { service } from "./service.js";
import { useStatusDatabase } from "./status-database.fixture.js";
import { applyEvents, getJob, getJobEvents } from "./store.js";

// Retention against a real PostgreSQL, with ages of milliseconds.
const db = useStatusDatabase();

const ago = (ms: number) => new Date(Date.now() - ms);
/** A job's events finishing (completed_at) about `finishedAgoMs` ago: the fixture's events are 1 s apart. */
const startedBefore = (finishedAgoMs: number) => ago(finishedAgoMs + 5000);

async function completedJob(finishedAgoMs: number) {
  const j = jobEvents({ t0: startedBefore(finishedAgoMs) });
  await applyEvents(db.sql, [j.requested, j.hashed, j.checked, j.completed]);
  return j.jobId;
}
async function failedJob(finishedAgoMs: number) {
  const j = jobEvents({ t0: startedBefore(finishedAgoMs) });
  await applyEvents(db.sql, [j.requested, j.hashed, j.failed("manifest", 2, j.hashed)]);
  return j.jobId;
}
async function processingJob(startedAgoMs: number) {
  const j = jobEvents({ t0: ago(startedAgoMs) });
  await applyEvents(db.sql, [j.requested, j.hashed]);
  return j.jobId;
}

const config = (over: Partial<RetentionConfig> = {}): RetentionConfig => ({
  completedMaxAgeMs: 60_000,
  failedMaxAgeMs: 600_000,
  intervalMs: 3_600_000,
  batchSize: 2,
  ...over,
});
const retention = (c: RetentionConfig, sql = db.sql) => startRetention({ ...c, steps: statusPruneSteps(sql, c), log: createSilentLogger() });
const exists = async (id: string) => (await getJob(db.sql, id)) !== null;
const deletedCount = async (table: string) => (await retentionDeleted.get()).values.find((v) => v.labels.table === table)?.value ?? 0;

/** A completed job turned into a watch: its request gives the hash (no upload); stopped `stoppedAgoMs` ago when given. */
async function completedWatch(finishedAgoMs: number, stoppedAgoMs?: number) {
  const j = jobEvents({ t0: startedBefore(finishedAgoMs) });
  const requested = { ...j.requested, data: { ...j.requested.data, contentHash: j.hashed.data.contentHash, upload: null } };
  const stop = stoppedAgoMs === undefined ? [] : [createEvent("watch.stopped", { jobId: j.jobId, stoppedAt: ago(stoppedAgoMs).toISOString() }, j.requested)];
  await applyEvents(db.sql, [requested, j.hashed, j.checked, j.completed, ...stop]);
  return j.jobId;
}

describe("status retention", () => {
  it("keeps an active watch's job however old its verdict; prunes a stopped one's with its watch record", async () => {
    const active = await completedWatch(120_000);
    const stopped = await completedWatch(120_000, 90_000);
    const r = retention(config({ batchSize: 100 }));
    try {
      await r.runOnce();
    } finally {
      await r.stop();
    }
    expect(await exists(active)).toBe(true);
    expect(await exists(stopped)).toBe(false);
    const watches = await db.sql<{ jobId: string }[]>`select job_id from watches where job_id in (${active}, ${stopped})`;
    expect(watches.map((w) => w.jobId)).toEqual([active]);
  });

  it("deletes completed and failed jobs past their ages, with their events, in batches; keeps the rest", async () => {
    const oldCompleted = await Promise.all([1, 2, 3, 4, 5].map(() => completedJob(120_000)));
    const freshCompleted = await completedJob(1000);
    const oldFailed = await failedJob(1_200_000);
    const youngFailed = await failedJob(120_000);
    const inFlight = await processingJob(3_600_000);
    const before = await deletedCount("verification_jobs");

    const r = retention(config());
    try {
      // Five old completed jobs in batches of two, then one old failed job.
      expect(await r.runOnce()).toEqual({ verification_jobs: 6, verification_job_events: 5 * 4 + 3 });
      expect(await r.runOnce()).toEqual({});
    } finally {
      await r.stop();
    }
    for (const id of [...oldCompleted, oldFailed]) {
      expect(await exists(id)).toBe(false);
      expect(await getJobEvents(db.sql, id)).toEqual([]);
    }
    for (const id of [freshCompleted, youngFailed, inFlight]) expect(await exists(id)).toBe(true);
    expect((await getJobEvents(db.sql, youngFailed)).length).toBe(3);
    expect((await deletedCount("verification_jobs")) - before).toBe(6);
  });

  it("prunes on its timer, with ages of milliseconds", async () => {
    const id = await completedJob(0);
    const r = retention(config({ completedMaxAgeMs: 50, intervalMs: 20 }));
    try {
      await eventually(async () => !(await exists(id)), "the job pruned");
    } finally {
      await r.stop();
    }
  });

  it("keeps everything of a kind whose age is 0", async () => {
    const completed = await completedJob(3_600_000);
    const failed = await failedJob(3_600_000);
    const r = retention(config({ completedMaxAgeMs: 0, failedMaxAgeMs: 1 }));
    try {
      expect(await r.runOnce()).toEqual({ verification_jobs: 1, verification_job_events: 3 });
    } finally {
      await r.stop();
    }
    expect(await exists(completed)).toBe(true);
    expect(await exists(failed)).toBe(false);
  });

  it("skips a row another transaction holds instead of waiting for it, and takes it next time", async () => {
    const held = await completedJob(120_000);
    const free = await completedJob(120_000);
    const r = retention(config());
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    // A writer (the projection, say) holding the row's lock.
    const writer = db.sql.begin(async (tx) => {
      await tx`select id from verification_jobs where id = ${held} for update`;
      locked();
      await released;
    });
    try {
      await isLocked;
      const started = Date.now();
      expect(await r.runOnce()).toEqual({ verification_jobs: 1, verification_job_events: 4 });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await exists(held)).toBe(true);
      expect(await exists(free)).toBe(false);
      release();
      await writer;
      expect(await r.runOnce()).toEqual({ verification_jobs: 1, verification_job_events: 4 });
      expect(await exists(held)).toBe(false);
    } finally {
      release();
      await r.stop();
    }
  });

  it("is safe on any number of replicas: each job is deleted once, nobody waits or fails", async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, () => completedJob(120_000)));
    const pools = Array.from({ length: 4 }, () => connectPostgres(db.url, { max: 2 }));
    const replicas = pools.map((sql) => retention(config({ batchSize: 3 }), sql));
    try {
      const results = await Promise.all(replicas.map((r) => r.runOnce()));
      expect(results.reduce((n, d) => n + (d.verification_jobs ?? 0), 0)).toBe(40);
      expect(results.reduce((n, d) => n + (d.verification_job_events ?? 0), 0)).toBe(160);
      for (const id of ids) expect(await exists(id)).toBe(false);
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
      await Promise.all(pools.map((sql) => sql.end()));
    }
  });
  it("deletes a batch once its completion is published, past the completed age, with none of its jobs left", async () => {
    const keptJob = await failedJob(120_000); // a failed job is kept 600 s: its batch stays with it
    const batch = async (id: string, completedAgoMs: number | null, published: boolean) => {
      const completedAt = completedAgoMs === null ? null : ago(completedAgoMs);
      await db.sql`
        insert into verification_batches (id, tenant, job_type, registry_address, total, created_at, completed_at, completion_published_at)
        values (${id}, 'default', 'verify', ${"0x" + "1".repeat(40)}, 1, ${ago(200_000)}, ${completedAt}, ${published ? completedAt : null})`;
      return id;
    };
    const gone = await batch(`b-gone-${keptJob}`, 120_000, true);
    const withJob = await batch(`b-job-${keptJob}`, 120_000, true);
    await db.sql`update verification_jobs set batch_id = ${withJob} where id = ${keptJob}`;
    const unpublished = await batch(`b-unpublished-${keptJob}`, 120_000, false);
    const young = await batch(`b-young-${keptJob}`, 1000, true);
    const open = await batch(`b-open-${keptJob}`, null, false);
    const r = retention(config());
    try {
      expect(await r.runOnce()).toEqual({ verification_batches: 1 });
    } finally {
      await r.stop();
    }
    const left = await db.sql<{ id: string }[]>`select id from verification_batches where id like ${`%-${keptJob}`} order by id`;
    expect(left.map((b) => b.id).sort()).toEqual([withJob, unpublished, young, open].sort());
    expect(left.map((b) => b.id)).not.toContain(gone);
    await db.sql`delete from verification_batches where id like ${`%-${keptJob}`}`;
  });
});

describe("the status service's retention", () => {
  it("prunes on the timer its RETENTION_* variables set, and reports it in /metrics", async () => {
    const nats = await startNatsServer();
    const running = await service.start(
      service.loadConfig({
        NATS_URL: nats.url,
        DATABASE_URL: db.url,
        STATUS_PORT: "0",
        STATUS_HOST: "127.0.0.1",
        STATUS_GRPC_PORT: "0",
        OPS_PORT: "0",
        RETENTION_COMPLETED_MS: "100",
        RETENTION_INTERVAL_MS: "50",
      }),
      createSilentLogger(),
    );
    try {
      const id = await completedJob(0);
      await eventually(async () => !(await exists(id)), "the job pruned by the service");
      const metrics = await (await fetch(`http://127.0.0.1:${running.opsPort}/metrics`)).text();
      expect(metrics).toMatch(/^veriflow_retention_deleted_total\{table="verification_jobs"\} [1-9]/m);
    } finally {
      await running.stop();
      await nats.stop();
    }
  });
});
