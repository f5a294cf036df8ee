import { describe, expect, it } from "vitest";
import { createSilentLogger } from "@veriflow/platform";
import type { Sql } from "@veriflow/pg";
import { JOB_CHANGED_SUBJECT } from "@veriflow/events";
import { announcedJobIds, createJobChanges, type JobChanges } from "./job-changes.js";
import { watchTerminalJobs } from "./job-watch.js";
import type { Notifier } from "./notify.js";
import type { Job } from "./store.js";

// The watch bounds without I/O: a change feed whose notifier and database are never reached.
const notifier: Notifier = { notify() {}, subscribe: () => ({ unsubscribe() {} }) };
const feed = (maxWatches?: number) =>
  createJobChanges({ notifier, sql: undefined as unknown as Sql, log: createSilentLogger(), pollMs: 60_000, ...(maxWatches ? { maxWatches } : {}) });

/** A feed that hands the listener to the test, to push terminal jobs by hand. */
function manualFeed(): { changes: JobChanges; push(job: Job): void } {
  let listener: ((job: Job) => void) | undefined;
  const changes = { onTerminal: (l: (job: Job) => void) => ((listener = l), () => (listener = undefined)) } as unknown as JobChanges;
  return { changes, push: (job) => listener?.(job) };
}
const job = (i: number, tenant = "acme") => ({ id: `job-${i}`, tenant, status: "completed", type: "verify" }) as unknown as Job;

describe("open watches per replica", () => {
  it("refuses one past STATUS_MAX_WATCHES with 503 E_TOO_MANY_WATCHES, and admits again once one closes", () => {
    const changes = feed(2);
    const offJob = changes.onJob("a", () => {});
    changes.onTerminal(() => {});
    expect(() => changes.onJob("b", () => {})).toThrow(expect.objectContaining({ code: "E_TOO_MANY_WATCHES", status: 503, retryAfterSeconds: 5 }));
    expect(() => changes.onTerminal(() => {})).toThrow(expect.objectContaining({ code: "E_TOO_MANY_WATCHES" }));
    offJob();
    offJob(); // closing twice frees one slot, not two
    expect(() => changes.onJob("b", () => {})).not.toThrow();
    expect(() => changes.onJob("c", () => {})).toThrow(expect.objectContaining({ code: "E_TOO_MANY_WATCHES" }));
    changes.stop();
  });
});

describe("a WatchJobs reader that falls behind", () => {
  it("keeps at most maxBuffered jobs, says so at once, and ends with 503 E_WATCH_TOO_SLOW", async () => {
    const { changes, push } = manualFeed();
    let overflowed = 0;
    const jobs = watchTerminalJobs(changes, "acme", {}, new AbortController().signal, { maxBuffered: 3, onOverflow: () => overflowed++ });
    const first = jobs.next(); // subscribes
    push(job(0));
    expect((await first).value).toMatchObject({ id: "job-0" });
    for (let i = 1; i <= 3; i++) push(job(i));
    expect(overflowed).toBe(0);
    push(job(4));
    push(job(5));
    expect(overflowed).toBe(1);
    await expect(jobs.next()).rejects.toMatchObject({ code: "E_WATCH_TOO_SLOW", status: 503 });
  });

  it("hands every job to a reader that keeps up", async () => {
    const { changes, push } = manualFeed();
    const jobs = watchTerminalJobs(changes, "acme", {}, new AbortController().signal, { maxBuffered: 2 });
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      const next = jobs.next();
      push(job(i));
      seen.push((await next).value!.id);
    }
    expect(seen).toHaveLength(10);
  });
});

describe("a WatchJobs reader's tenant", () => {
  it("hears its own tenant's jobs only", async () => {
    const { changes, push } = manualFeed();
    const jobs = watchTerminalJobs(changes, "acme", {}, new AbortController().signal);
    const next = jobs.next();
    push(job(1, "other"));
    push(job(2, "acme"));
    expect((await next).value).toMatchObject({ id: "job-2", tenant: "acme" });
  });
});

describe("change announcements", () => {
  it("go out as one notification per 1000 jobs of a batch, and name every job once, in order", () => {
    const sent: [string, string][] = [];
    const changes = createJobChanges({
      notifier: { notify: (subject, payload = "") => void sent.push([subject, payload]), subscribe: () => ({ unsubscribe() {} }) },
      sql: undefined as unknown as Sql,
      log: createSilentLogger(),
      pollMs: 60_000,
    });
    const ids = Array.from({ length: 2500 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
    changes.announce(ids);
    changes.stop();
    expect(sent).toHaveLength(3);
    expect(sent.flatMap(([subject, payload]) => announcedJobIds(subject, payload))).toEqual(ids);
  });

  it("from an earlier version (one job per notification, its id as the subject's last token) are still heard", () => {
    expect(announcedJobIds(`${JOB_CHANGED_SUBJECT}.0b4f2a3e-6a1d-4c8e-9f00-123456789abc`, "")).toEqual(["0b4f2a3e-6a1d-4c8e-9f00-123456789abc"]);
  });
});
