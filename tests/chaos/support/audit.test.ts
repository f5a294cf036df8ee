import { describe, expect, it } from "vitest";
import { countFaults, type Evidence, type TerminalEvent } from "./audit.js";
import type { Case } from "./cases.js";
import type { ReceivedCallback } from "./callbacks.js";
import type { Submission } from "./load.js";

// The chaos suite's counting rules, on evidence written by hand: each count must move when,
// and only when, its fault is in the evidence (a suite that cannot report a failure is no test).

const HASH = "0x" + "ab".repeat(32);
const ok: Case = { kind: "registered", bytes: Buffer.from("x"), contentHash: HASH, manifestUri: "ipfs://m", expect: { outcome: "completed", status: "OK", reasons: [] } };
const missing: Case = { ...ok, kind: "manifest-missing", expect: { outcome: "failed", stage: "manifest", code: "E_MANIFEST_NOT_FOUND" } };

let seq = 0;
const accepted = (jobId: string, c: Case = ok, callback = false): Submission => ({ index: seq++, case: c, callback, fileName: "f", outcome: { kind: "accepted", jobId } });
const completed = (jobId: string, status = "OK", reasons: string[] = [], contentHash = HASH): TerminalEvent => ({
  jobId,
  type: "verification.completed",
  seq: seq++,
  data: { jobId, contentHash, result: { status, reasons, fileHash: contentHash } },
});
const failed = (jobId: string, stage = "manifest", code = "E_MANIFEST_NOT_FOUND"): TerminalEvent => ({ jobId, type: "verification.failed", seq: seq++, data: { jobId, stage, code } });
const callback = (jobId: string, eventId: string, signed = true): ReceivedCallback => ({ jobId, eventId, type: "verification.completed", signed });

/** Two jobs that went right (one with its callback), and the statuses, requests and callbacks that go with them. */
function clean(): Evidence {
  return {
    subs: [accepted("a", ok, true), accepted("b", missing)],
    terminal: [completed("a"), failed("b")],
    requested: new Set(["a", "b"]),
    uploads: [],
    statuses: new Map([["a", "completed"], ["b", "failed"]]),
    callbacks: [callback("a", "ea")],
    deadLettered: 0,
    planted: new Set(),
    storeBytes: 0,
    streamBytes: new Map(),
  };
}

const faults = (e: Evidence) => {
  const { lost, doubled, wrong, orphaned, undelivered, stale } = countFaults(e).counts;
  return { lost, doubled, wrong, orphaned, undelivered, stale };
};
const none = { lost: 0, doubled: 0, wrong: 0, orphaned: 0, undelivered: 0, stale: 0 };

describe("chaos counts", () => {
  it("are all zero for jobs that ended once, as expected, with their callback and status", () => {
    const a = countFaults(clean());
    expect(a.counts).toMatchObject({ submitted: 2, accepted: 2, completed: 1, failed: 1, ...none });
  });

  it("count an accepted job without a terminal event as lost, and keep its upload out of the orphans", () => {
    const e = clean();
    e.subs = [...e.subs, accepted("c")];
    e.requested = new Set([...e.requested, "c"]);
    e.uploads = ["c"];
    expect(faults(e)).toEqual({ ...none, lost: 1 });
    expect(countFaults(e).lostJobIds).toEqual(["c"]);
  });

  it("count two terminal events of one job as doubled, and judge each of them", () => {
    const e = clean();
    e.terminal = [...e.terminal, failed("a", "chain-check", "E_RPC_UNAVAILABLE")];
    expect(faults(e)).toEqual({ ...none, doubled: 1, wrong: 1 });
  });

  it("count a second copy of the same terminal event (same id and content) as a copy, not doubled; differing content under one id as doubled", () => {
    const e = clean();
    const first = { ...completed("a"), eventId: "id-a" };
    e.terminal = [first, { ...first, seq: seq++ }, failed("b")];
    expect(faults(e)).toEqual(none);
    expect(countFaults(e).copies).toBe(1);
    e.terminal = [first, { ...first, seq: seq++, data: { ...first.data, result: { status: "FAIL", reasons: ["revoked"], fileHash: HASH } } }, failed("b")];
    expect(faults(e)).toEqual({ ...none, doubled: 1, wrong: 1 });
    expect(countFaults(e).copies).toBe(0);
  });

  it("count a verdict, a hash or a failure other than the case's as wrong", () => {
    for (const t of [completed("a", "FAIL", ["not_registered"]), completed("a", "OK", [], "0x" + "cd".repeat(32)), failed("a", "hashing", "E_UPLOAD_NOT_FOUND")]) {
      const e = clean();
      e.terminal = [t, failed("b")];
      e.statuses = new Map([["a", t.type === "verification.completed" ? "completed" : "failed"], ["b", "failed"]]);
      expect(faults(e)).toEqual({ ...none, wrong: 1 });
    }
    const e = clean();
    e.terminal = [completed("a"), completed("b")];
    e.statuses = new Map([["a", "completed"], ["b", "completed"]]);
    expect(faults(e)).toEqual({ ...none, wrong: 1 });
  });

  it("count an in-process answer other than the case's as wrong, and a matching one not at all", () => {
    const e = clean();
    const sync = (c: Case, result: { status: string; reasons: string[]; fileHash: string } | null, failureCode: string | null): Submission => ({
      index: seq++,
      case: c,
      callback: false,
      fileName: "f",
      outcome: { kind: "sync", result, failureCode },
    });
    e.subs = [
      ...e.subs,
      sync(ok, { status: "OK", reasons: [], fileHash: HASH }, null),
      sync(missing, null, "E_MANIFEST_NOT_FOUND"),
      sync(ok, { status: "WARN", reasons: ["uri_mismatch"], fileHash: HASH }, null),
      sync(ok, null, "E_MANIFEST_NOT_FOUND"),
      sync(missing, { status: "OK", reasons: [], fileHash: HASH }, null),
    ];
    expect(faults(e)).toEqual({ ...none, wrong: 3 });
    expect(countFaults(e).sync).toBe(5);
  });

  it("count uploads of ended jobs and of requests the stream never got as orphaned", () => {
    const e = clean();
    e.uploads = ["a", "refused-one"];
    expect(faults(e)).toEqual({ ...none, orphaned: 2 });
  });

  it("count an ended job with a callbackUrl and no terminal callback, or two, as undelivered; a redelivery of one is fine", () => {
    const noCallback = clean();
    noCallback.callbacks = [];
    expect(faults(noCallback)).toEqual({ ...none, undelivered: 1 });
    const unsigned = clean();
    unsigned.callbacks = [callback("a", "ea", false)];
    expect(faults(unsigned)).toEqual({ ...none, undelivered: 1 });
    const two = clean();
    two.callbacks = [callback("a", "ea"), callback("a", "other")];
    expect(faults(two)).toEqual({ ...none, undelivered: 1 });
    const redelivered = clean();
    redelivered.callbacks = [callback("a", "ea"), callback("a", "ea")];
    expect(faults(redelivered)).toEqual(none);
  });

  it("count a job whose listed status is not its terminal outcome as stale, and every ended job when the list does not answer", () => {
    const e = clean();
    e.statuses = new Map([["a", "processing"], ["b", "failed"]]);
    expect(faults(e)).toEqual({ ...none, stale: 1 });
    e.statuses = null;
    expect(faults(e)).toEqual({ ...none, stale: 2 });
  });

  it("leave refused and unanswered submissions and planted poison out of the job counts", () => {
    const e = clean();
    e.subs = [
      ...e.subs,
      { index: 92, case: ok, callback: true, fileName: "f", outcome: { kind: "refused", status: 503, code: "E_QUEUE_UNAVAILABLE" } },
      { index: 93, case: ok, callback: false, fileName: "f", outcome: { kind: "unanswered", error: "ECONNREFUSED" } },
    ];
    e.requested = new Set([...e.requested, "poison-1"]);
    e.planted = new Set(["poison-1"]);
    const a = countFaults(e);
    expect(a.counts).toMatchObject({ submitted: 4, accepted: 2, ...none });
    expect([a.refused, a.unanswered]).toEqual([1, 1]);
    expect(a.notes.join("\n")).not.toContain("without a 202");
  });
});
