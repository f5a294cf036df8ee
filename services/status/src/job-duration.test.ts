import { describe, expect, it } from "vitest";
import { endedJobRuns, jobRunKey } from "./job-duration.js";
import { jobEvents } from "./job-events.fixture.js";

describe("endedJobRuns", () => {
  it("ends a run at its terminal event only, timed from the run's start, typed by the stored job", () => {
    const j = jobEvents({ jobType: "proof" });
    const starts = new Map([[jobRunKey(j.jobId, 1), new Date(j.requested.occurredAt)]]);
    expect(endedJobRuns([j.requested, j.hashed, j.checked, j.completed], new Map([[j.jobId, "proof"]]), starts)).toEqual([
      { type: "proof", outcome: "completed", seconds: 4 },
    ]);
  });

  it("says unknown for a job whose type is not known yet, and skips a run whose start is not known", () => {
    const j = jobEvents();
    const failed = j.failed("hashing", 1, j.requested);
    expect(endedJobRuns([failed], new Map([[j.jobId, null]]), new Map([[jobRunKey(j.jobId, 1), new Date(j.requested.occurredAt)]]))).toEqual([
      { type: "unknown", outcome: "failed", seconds: 5 },
    ]);
    expect(endedJobRuns([failed], new Map(), new Map())).toEqual([]);
  });
});
