import type { AnyEnvelope, JobType } from "@veriflow/events";
import { describe, expect, it } from "vitest";
import { decodeJobCursor, encodeJobCursor, type JobCursor } from "./job-cursor.js";
import { jobEvents } from "./job-events.fixture.js";
import { matchesFilter, type JobFilter } from "./job-filter.js";
import { queryJobs } from "./job-list.js";
import { useStatusDatabase } from "./status-database.fixture.js";
import { applyEvents, type Job } from "./store.js";

// Keyset pages (REST `cursor`, gRPC `page_token`) against a real PostgreSQL.
const db = useStatusDatabase();

const T0 = Date.UTC(2025, 0, 1);

/** Job i's events: created at one of few instants (ties broken by id), a type, and a status by i. */
function story(i: number, tenant = "default"): AnyEnvelope[] {
  const jobType: JobType = i % 3 === 0 ? "proof" : "verify";
  const j = jobEvents({ tenant, jobType, t0: new Date(T0 + (i % 17) * 60_000) });
  return [[j.requested], [j.requested, j.hashed], [j.requested, j.hashed, j.checked, j.completed], [j.requested, j.failed()]][i % 4]!;
}

/** Every page after every cursor, until the last; `between` runs after each page. */
async function walk(filter: JobFilter, limit: number, between: () => Promise<void> = async () => {}): Promise<Job[]> {
  const seen: Job[] = [];
  let after: JobCursor | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await queryJobs(db.sql, "default", filter, { limit, after });
    seen.push(...page.jobs);
    if (!page.next) return seen;
    // Through the wire format, as a client hands it back.
    after = decodeJobCursor(encodeJobCursor(page.next))!;
    await between();
  }
  throw new Error("no last page after 1000 pages");
}

const newestFirst = (a: Job, b: Job) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1);

describe("keyset pages", () => {
  it("return every matching job exactly once, in order, for every filter, while jobs are added between pages", async () => {
    await applyEvents(db.sql, Array.from({ length: 120 }, (_, i) => story(i)).flat());
    // Another tenant's jobs share every instant and never show.
    await applyEvents(db.sql, Array.from({ length: 30 }, (_, i) => story(i, "acme")).flat());
    const everyJob = async () => (await queryJobs(db.sql, "default", {}, { limit: 1000 })).jobs;
    const hash = (await everyJob()).find((j) => j.contentHash)!.contentHash!;
    const filters: JobFilter[] = [
      {},
      { status: "completed" },
      { type: "proof" },
      { status: "failed", type: "proof" },
      { contentHash: hash },
      { createdAfter: new Date(T0 + 5 * 60_000), createdBefore: new Date(T0 + 11 * 60_000) },
      { status: "processing", createdBefore: new Date(T0 + 9 * 60_000) },
    ];
    let added = 1000;
    for (const filter of filters) {
      const before = await everyJob();
      const addedIds = new Set<string>();
      const seen = await walk(filter, 4, async () => {
        // Two new jobs per page at instants anywhere in the listing: before the cursor (never
        // shown), after it (shown once, when the walk gets there), or at its very instant.
        const events = [story(added++), story(added++)];
        for (const e of events) addedIds.add(e[0]!.correlationId);
        await applyEvents(db.sql, events.flat());
      });
      const ids = seen.map((j) => j.id);
      expect(new Set(ids).size, JSON.stringify(filter)).toBe(ids.length);
      expect([...seen].sort(newestFirst), JSON.stringify(filter)).toEqual(seen);
      const expected = before.filter((j) => matchesFilter(j, filter)).map((j) => j.id);
      expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
      // Every job there when the walk began, and only matching ones; of those added, only some.
      expect(ids.filter((id) => !addedIds.has(id)).sort(), JSON.stringify(filter)).toEqual(expected.sort());
      expect(seen.every((j) => matchesFilter(j, filter) && j.tenant === "default")).toBe(true);
    }
  });

  it("pages by offset the same way when nothing changes, and the offset page says where the next starts", async () => {
    await applyEvents(db.sql, Array.from({ length: 30 }, (_, i) => story(i)).flat());
    const byCursor = (await walk({}, 7)).map((j) => j.id);
    const byOffset: string[] = [];
    for (let offset = 0; offset < 30; offset += 7) byOffset.push(...(await queryJobs(db.sql, "default", {}, { limit: 7, offset })).jobs.map((j) => j.id));
    expect(byOffset).toEqual(byCursor);
    const mid = await queryJobs(db.sql, "default", {}, { limit: 7, offset: 14 });
    expect((await queryJobs(db.sql, "default", {}, { limit: 7, after: mid.next! })).jobs.map((j) => j.id)).toEqual(byCursor.slice(21, 28));
    expect((await queryJobs(db.sql, "default", {}, { limit: 2, offset: 28 })).next).toBeNull();
  });
});
