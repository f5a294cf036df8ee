import { describe, expect, it } from "vitest";
import type { TerminalEvent } from "../../chaos/support/audit.js";
import type { Case } from "../../chaos/support/cases.js";
import type { Submission, SubmitOutcome } from "../../chaos/support/load.js";
import { countUnavailable, pickupAfterKill, validJobsFailed } from "./scale-figures.js";

// The scale test's figures on submissions written by hand: each must move when, and only when,
// what it counts is in the input.

const ok: Case = { kind: "registered", bytes: Buffer.from("x"), contentHash: "0x", manifestUri: "ipfs://m", expect: { outcome: "completed", status: "OK", reasons: [] } };
const missing: Case = { ...ok, kind: "manifest-missing", expect: { outcome: "failed", stage: "manifest", code: "E_MANIFEST_NOT_FOUND" } };
let index = 0;
const sub = (outcome: SubmitOutcome, more: Partial<Submission> = {}): Submission => ({ index: index++, case: ok, callback: false, fileName: "f", outcome, ...more });
const accepted = (jobId: string, sentAt: number, c: Case = ok) => sub({ kind: "accepted", jobId }, { sentAt, answeredAt: sentAt + 10, case: c });
const ended = (jobId: string, storedAt: number, type: TerminalEvent["type"] = "verification.completed"): TerminalEvent => ({ jobId, type, seq: index++, data: {}, storedAt });

describe("countUnavailable", () => {
  it("counts 503 answers by code, retried or final, and those inside the window", () => {
    const subs = [
      sub({ kind: "accepted", jobId: "a" }, { retries: [{ at: 100, status: 503, code: "E_QUEUE_UNAVAILABLE", delayMs: 1000 }, { at: 1200, status: 503, code: "E_FALLBACK_BUSY", delayMs: 1000 }] }),
      sub({ kind: "refused", status: 503, code: "E_QUEUE_UNAVAILABLE" }, { answeredAt: 5000, retries: [{ at: 3000, status: 429, code: "E_RATE_LIMITED", delayMs: 1000 }] }),
      sub({ kind: "accepted", jobId: "b" }, { retries: [{ at: 150, status: 0, code: "no answer", delayMs: 1000 }] }),
      sub({ kind: "accepted", jobId: "c" }),
    ];
    const u = countUnavailable(subs, { from: 0, to: 2000 });
    expect(u.submissions).toBe(2);
    expect(u.answers).toBe(3);
    expect(Object.fromEntries(u.byCode)).toEqual({ E_QUEUE_UNAVAILABLE: 2, E_FALLBACK_BUSY: 1 });
    expect(u.inWindow).toBe(2);
    expect(u.retries).toBe(4);
    expect(u.refusedAfterRetries).toBe(1);
  });

  it("counts nothing when every submission was accepted at once", () => {
    const u = countUnavailable([accepted("a", 0), accepted("b", 10)], { from: 0, to: 1e9 });
    expect(u).toMatchObject({ submissions: 0, answers: 0, inWindow: 0, retries: 0, refusedAfterRetries: 0 });
  });
});

describe("pickupAfterKill", () => {
  it("times jobs sent before the kill that ended after it, from the kill", () => {
    const subs = [accepted("before-ended-before", 0), accepted("in-flight", 900), accepted("slow", 950), accepted("after", 1500)];
    const terminal = [ended("before-ended-before", 500), ended("in-flight", 2000), ended("slow", 7000), ended("after", 1800)];
    const { pickup, around } = pickupAfterKill(subs, terminal, 1000, 600);
    expect(pickup).toEqual({ count: 2, p50: 1000, p95: 6000, max: 6000 });
    // Sent within 600 ms of the kill: in-flight (1100 ms to end), slow (6050), after (300).
    expect(around.count).toBe(3);
    expect(around.max).toBe(6050);
  });
});

describe("validJobsFailed", () => {
  it("counts accepted jobs due a verdict that failed, not those due to fail", () => {
    const subs = [accepted("a", 0), accepted("b", 0, missing), accepted("c", 0)];
    expect(validJobsFailed(subs, [ended("a", 1, "verification.failed"), ended("b", 1, "verification.failed"), ended("c", 1)])).toBe(1);
    expect(validJobsFailed(subs, [ended("a", 1), ended("b", 1, "verification.failed"), ended("c", 1)])).toBe(0);
  });
});
