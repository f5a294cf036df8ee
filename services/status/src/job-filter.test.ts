import { describe, expect, it } from "vitest";
import { jobEvents } from "./job-events.fixture.js";
import { isNewer } from "./job-filter.js";
import { foldEvents } from "./projection.js";
import type { Job } from "./store.js";

const j = jobEvents();
const failed = j.failed("manifest", 2, j.hashed);
const run2 = j.rerun(2, failed);
const job = (...events: Parameters<typeof foldEvents>[0]): Job => ({ ...[...foldEvents(events).values()][0]!, updatedAt: new Date() });

describe("isNewer (what a watch may send next)", () => {
  it("never goes backwards within a run, and a run's terminal state is final", () => {
    expect(isNewer(job(j.requested), job(j.requested, j.hashed))).toBe(true);
    expect(isNewer(job(j.requested, j.hashed), job(j.requested))).toBe(false);
    expect(isNewer(job(j.requested, j.hashed, failed), job(j.requested, j.hashed, failed, j.completed))).toBe(false);
  });

  it("follows a failed job into its retry, and never back into the earlier run", () => {
    const failedJob = job(j.requested, j.hashed, failed);
    const retried = job(j.requested, j.hashed, failed, run2.hashed);
    expect(retried).toMatchObject({ run: 2, status: "processing" });
    expect(isNewer(failedJob, retried)).toBe(true);
    expect(isNewer(retried, failedJob)).toBe(false);
  });
});
