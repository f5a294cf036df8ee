import type { AnyJobEnvelope as AnyEnvelope } from "@veriflow/events";
import { describe, expect, it } from "vitest";
import { jobEvents } from "./job-events.fixture.js";
import { foldEvents, jobPatchFor, mergePatches, type JobPatch } from "./projection.js";

const fold = (events: AnyEnvelope[]): JobPatch => {
  const jobs = foldEvents(events);
  expect(jobs.size).toBe(1);
  return [...jobs.values()][0]!;
};

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe("jobPatchFor", () => {
  const j = jobEvents({ attempts: 2 });

  it("verification.requested queues the job with the request's fields", () => {
    const p = jobPatchFor(j.requested);
    expect(p).toMatchObject({
      id: j.jobId,
      type: "verify",
      status: "queued",
      progress: 0,
      manifestUri: j.request.manifestUri,
      registryAddress: j.request.registryAddress,
      rpcUrl: null,
      fileName: "photo.jpg",
      fileSize: 1234,
      retryCount: 0,
      result: null,
      error: null,
      startedAt: null,
      completedAt: null,
    });
    expect(p.createdAt.toISOString()).toBe(j.requested.occurredAt);
  });

  it("content.hashed starts processing at 10 with the hash (lower-case) and startedAt", () => {
    const p = jobPatchFor(j.hashed);
    expect(p).toMatchObject({ status: "processing", progress: 10, contentHash: j.contentHash.toLowerCase(), retryCount: 1 });
    expect(p.startedAt?.toISOString()).toBe(j.hashed.data.startedAt);
  });

  it("manifest.checked reaches 50 (manifest fetched and signature checked)", () => {
    expect(jobPatchFor(j.checked)).toMatchObject({ status: "processing", progress: 50, retryCount: 1 });
  });

  it("verification.completed completes at 100 with the result", () => {
    const p = jobPatchFor(j.completed);
    expect(p).toMatchObject({ status: "completed", progress: 100, result: j.completed.data.result, error: null });
    expect(p.completedAt?.toISOString()).toBe(j.completed.occurredAt);
  });

  it("verification.failed fails with a structured error and counts retries", () => {
    const p = jobPatchFor(j.failed("manifest", 4));
    expect(p).toMatchObject({
      status: "failed",
      result: null,
      error: { stage: "manifest", code: "E_RPC_UNAVAILABLE", message: "rpc endpoint unreachable", attempts: 4 },
      retryCount: 3,
    });
    expect(p.completedAt).not.toBeNull();
  });
});

describe("folding", () => {
  it("moves a job through every stage in order", () => {
    const j = jobEvents();
    const steps = [j.requested, j.hashed, j.checked, j.completed].map((_, i, all) => fold(all.slice(0, i + 1)));
    expect(steps.map((s) => [s.status, s.progress])).toEqual([
      ["queued", 0],
      ["processing", 10],
      ["processing", 50],
      ["completed", 100],
    ]);
    const last = steps[3]!;
    expect(last.createdAt.toISOString()).toBe(j.requested.occurredAt);
    expect(last.startedAt?.toISOString()).toBe(j.hashed.data.startedAt);
    expect(last.lastEventAt.toISOString()).toBe(j.completed.occurredAt);
  });

  it("reaches the same state whatever order the events arrive in", () => {
    const j = jobEvents({ attempts: 2 });
    const orders = permutations<AnyEnvelope>([j.requested, j.hashed, j.checked, j.completed]);
    const expected = fold([j.requested, j.hashed, j.checked, j.completed]);
    for (const order of orders) expect(fold(order)).toEqual(expected);
    expect(expected.retryCount).toBe(3);
  });

  it("never moves a job backwards: a late stage event after completion changes nothing that matters", () => {
    const j = jobEvents();
    const p = fold([j.requested, j.completed, j.hashed]);
    expect(p).toMatchObject({ status: "completed", progress: 100, result: j.completed.data.result });
    const q = fold([j.checked, j.hashed]);
    expect(q).toMatchObject({ status: "processing", progress: 50 });
    const r = fold([j.hashed, j.requested]);
    expect(r).toMatchObject({ status: "processing", progress: 10 });
  });

  it("the first terminal event is final", () => {
    const j = jobEvents();
    const failed = j.failed();
    expect(fold([j.requested, j.completed, failed])).toMatchObject({ status: "completed", progress: 100, error: null });
    const f = fold([j.requested, j.checked, failed, j.completed]);
    expect(f).toMatchObject({ status: "failed", progress: 50, result: null, error: { stage: "chain-check" } });
    expect(f.completedAt?.toISOString()).toBe(failed.occurredAt);
  });

  it("a failure before anything else keeps its progress at 0 and still fills the request's fields later", () => {
    const j = jobEvents();
    const p = fold([j.failed("hashing", 1, j.requested), j.requested, j.hashed]);
    expect(p).toMatchObject({ status: "failed", progress: 0, type: "verify", manifestUri: j.request.manifestUri, fileName: "photo.jpg" });
    expect(p.createdAt.toISOString()).toBe(j.requested.occurredAt);
  });

  it("keeps jobs apart", () => {
    const a = jobEvents();
    const b = jobEvents();
    const jobs = foldEvents([a.requested, b.requested, a.hashed, b.completed]);
    expect(jobs.get(a.jobId)).toMatchObject({ status: "processing" });
    expect(jobs.get(b.jobId)).toMatchObject({ status: "completed" });
  });
});

describe("mergePatches", () => {
  it("is associative, so a folded batch merges with the stored row like its events one by one", () => {
    const j = jobEvents({ attempts: 3 });
    const all = [j.requested, j.hashed, j.checked, j.failed(), j.completed].map(jobPatchFor);
    for (const order of permutations(all)) {
      const [a, b, c] = order as [JobPatch, JobPatch, JobPatch];
      expect(mergePatches(mergePatches(a, b), c)).toEqual(mergePatches(a, mergePatches(b, c)));
    }
  });

  it("takes the earliest createdAt and startedAt and the latest lastEventAt", () => {
    const j = jobEvents();
    const p = mergePatches(jobPatchFor(j.completed), jobPatchFor(j.requested));
    expect(p.createdAt.toISOString()).toBe(j.requested.occurredAt);
    expect(p.lastEventAt.toISOString()).toBe(j.completed.occurredAt);
  });
});

describe("runs (retries)", () => {
  /** A job that failed at the manifest stage (run 1), then was retried from there (run 2). */
  const retried = () => {
    const j = jobEvents({ attempts: 2 });
    const failed = j.failed("manifest", 2, j.hashed);
    return { j, failed, run2: j.rerun(2, failed) };
  };

  it("a retry takes a failed job back to processing, and its own terminal event finishes it", () => {
    const { j, failed, run2 } = retried();
    const back = fold([j.requested, j.hashed, failed, run2.hashed]);
    expect(back).toMatchObject({ run: 2, status: "processing", progress: 10, error: null, result: null, completedAt: null });
    expect(back.contentHash).toBe(j.contentHash.toLowerCase());
    const done = fold([j.requested, j.hashed, failed, run2.hashed, run2.checked, run2.completed]);
    expect(done).toMatchObject({ run: 2, status: "completed", progress: 100, result: j.completed.data.result, error: null });
    expect(done.completedAt?.toISOString()).toBe(run2.completed.occurredAt);
  });

  it("a late event of an earlier run changes no state, whatever the order", () => {
    const { j, failed, run2 } = retried();
    const events = [j.requested, j.hashed, failed, run2.hashed, run2.checked, run2.completed];
    const expected = fold(events);
    for (const order of permutations<AnyEnvelope>(events)) expect(fold(order)).toEqual(expected);
    // Run 1's completion arriving after run 2 has started does not finish the job.
    expect(fold([j.requested, j.hashed, failed, run2.hashed, j.completed])).toMatchObject({ run: 2, status: "processing", progress: 10 });
  });

  it("a retried run can fail again, with its own failure", () => {
    const { j, failed, run2 } = retried();
    const again = run2.failed("manifest", 3);
    const p = fold([j.requested, j.hashed, failed, run2.hashed, again]);
    expect(p).toMatchObject({ run: 2, status: "failed", progress: 10, error: { stage: "manifest", attempts: 3, code: "E_MANIFEST_UNAVAILABLE" } });
    expect(p.completedAt?.toISOString()).toBe(again.occurredAt);
  });

  it("a re-verification (a run after a completed one) makes its verdict the result and keeps the earlier one in resultHistory, whatever the order", () => {
    const j = jobEvents();
    const run2 = j.rerun(2, j.completed);
    const events = [j.requested, j.hashed, j.completed, run2.hashed, run2.completed];
    const expected = fold(events);
    expect(expected).toMatchObject({ run: 2, status: "completed", result: run2.completed.data.result });
    expect(expected.resultHistory).toEqual([
      { run: 1, status: j.completed.data.result.status, reasons: j.completed.data.result.reasons, blockNumber: j.completed.data.result.onchain.blockNumber, completedAt: j.completed.occurredAt, result: j.completed.data.result },
    ]);
    for (const order of permutations<AnyEnvelope>(events)) expect(fold(order).resultHistory).toEqual(expected.resultHistory);
  });

  it("mergePatches stays associative across runs", () => {
    const { j, failed, run2 } = retried();
    const all = [j.hashed, failed, run2.hashed, run2.failed(), run2.completed].map(jobPatchFor);
    for (const order of permutations(all)) {
      const [a, b, c] = order as [JobPatch, JobPatch, JobPatch];
      expect(mergePatches(mergePatches(a, b), c)).toEqual(mergePatches(a, mergePatches(b, c)));
    }
  });
});
