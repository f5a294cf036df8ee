import { describe, expect, it } from "vitest";
import { JOBS_PATH, jobPath } from "./jobs-api.js";

describe("JOBS_PATH", () => {
  // Written out once here on purpose: clients of the old queue call this path, so
  // changing the constant is an API break this test is meant to stop.
  it("is the old queue's path", () => {
    expect(JOBS_PATH).toBe("/api/verification-jobs");
  });

  it("jobPath addresses a job and its sub-resources", () => {
    const id = "92a08901-3c8e-4f55-9d4f-0c1f2b3a4d5e";
    expect(jobPath(id)).toBe(`/api/verification-jobs/${id}`);
    expect(jobPath(id, "events")).toBe(`/api/verification-jobs/${id}/events`);
    expect(jobPath("a/b?c")).toBe("/api/verification-jobs/a%2Fb%3Fc");
  });
});
