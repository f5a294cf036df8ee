import { describe, expect, it } from "vitest";
import type { Accepted, ApiClient, SubmitInput, WatchAccepted, WatchInput } from "./api.js";
import { ApiError, InterruptedError } from "./errors.js";
import { DEFAULT_RETRY_DELAY_MS, MIN_RETRY_DELAY_MS, createWatchWithRetries, isComeBackLater, retryDelayMs, submitWithRetries } from "./retrying-submit.js";

const input: SubmitInput = { file: "a.txt", manifestUri: "ipfs://bafy", registryAddress: "0x" + "2".repeat(40), type: "verify" };
const accepted: Accepted = { mode: "async", jobId: "92a08901-0f1e-4c3b-9a7d-2b8f3c4d5e6f", status: "queued" };
const busy = (retryAfter: string | null = "1") => new ApiError(503, "E_QUEUE_BACKLOG", "10 unfinished jobs (limit 10)", "req-1", retryAfter);

/** An API client whose submit answers from `answers` in turn (an error is thrown), recording each input. */
function fakeApi(answers: (Accepted | Error)[]) {
  const sent: SubmitInput[] = [];
  const api = {
    submit: async (i: SubmitInput) => {
      sent.push(i);
      const next = answers.shift() ?? accepted;
      if (next instanceof Error) throw next;
      return next;
    },
  } as unknown as ApiClient;
  return { api, sent };
}

describe("retryDelayMs", () => {
  it("reads delay-seconds and HTTP dates, never below a second; anything else is the default", () => {
    expect(retryDelayMs("7")).toBe(7000);
    expect(retryDelayMs(" 0 ")).toBe(MIN_RETRY_DELAY_MS);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryDelayMs("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(retryDelayMs("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(MIN_RETRY_DELAY_MS);
    expect(retryDelayMs(null)).toBe(DEFAULT_RETRY_DELAY_MS);
    expect(retryDelayMs("-3")).toBe(DEFAULT_RETRY_DELAY_MS);
    expect(retryDelayMs("soon")).toBe(DEFAULT_RETRY_DELAY_MS);
  });
});

describe("isComeBackLater", () => {
  it("is a busy or full gateway, a rate limit, or our own earlier attempt still in progress; nothing else", () => {
    for (const status of [503, 507, 429]) expect(isComeBackLater(new ApiError(status, `HTTP_${status}`, "x"))).toBe(true);
    expect(isComeBackLater(new ApiError(409, "E_IDEMPOTENCY_KEY_IN_PROGRESS", "x"))).toBe(true);
    expect(isComeBackLater(new ApiError(409, "E_IDEMPOTENCY_KEY_REUSED", "x"))).toBe(false);
    expect(isComeBackLater(new ApiError(400, "E_INVALID_MANIFEST_URI", "x"))).toBe(false);
    expect(isComeBackLater(new Error("ECONNREFUSED"))).toBe(false);
  });
});

describe("submitWithRetries", () => {
  it("sends again after each busy answer, every attempt with the same generated Idempotency-Key", async () => {
    const { api, sent } = fakeApi([busy(), new ApiError(409, "E_IDEMPOTENCY_KEY_IN_PROGRESS", "in progress", null, "1"), accepted]);
    const waits: { attempt: number; delayMs: number }[] = [];
    await expect(submitWithRetries(api, input, { retryForMs: 60_000, onWait: (w) => waits.push({ attempt: w.attempt, delayMs: w.delayMs }) })).resolves.toBe(accepted);
    expect(sent).toHaveLength(3);
    expect(sent[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(sent.map((s) => s.idempotencyKey)).size).toBe(1);
    expect(waits).toEqual([
      { attempt: 1, delayMs: 1000 },
      { attempt: 2, delayMs: 1000 },
    ]);
    // Another submission, another key.
    const other = fakeApi([]);
    await submitWithRetries(other.api, input, { retryForMs: 0, onWait: () => {} });
    expect(other.sent[0]!.idempotencyKey).not.toBe(sent[0]!.idempotencyKey);
  });

  it("gives up with the last answer when the next wait would pass the bound, or at once for --retry-for 0", async () => {
    const waited = fakeApi([busy(), busy()]);
    const started = Date.now();
    const err = await submitWithRetries(waited.api, input, { retryForMs: 1500, onWait: () => {} }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(err).toMatchObject({ status: 503, code: "E_QUEUE_BACKLOG", message: expect.stringContaining("still answered after 2 attempts") });
    expect(waited.sent).toHaveLength(2);

    const none = fakeApi([busy()]);
    await expect(submitWithRetries(none.api, input, { retryForMs: 0, onWait: () => {} })).rejects.toThrow(/not retried \(--retry-for 0\)/);
    expect(none.sent).toHaveLength(1);
  });

  it("does not retry other errors; Ctrl-C during a wait ends it", async () => {
    const bad = new ApiError(400, "E_INVALID_MANIFEST_URI", "bad uri");
    await expect(submitWithRetries(fakeApi([bad]).api, input, { retryForMs: 60_000, onWait: () => {} })).rejects.toBe(bad);
    const interrupt = new AbortController();
    const waiting = submitWithRetries(fakeApi([busy("30")]).api, input, { retryForMs: 60_000, signal: interrupt.signal, onWait: () => interrupt.abort() });
    await expect(waiting).rejects.toBeInstanceOf(InterruptedError);
  });
});

describe("createWatchWithRetries", () => {
  it("creates a watch again after a busy answer with the same Idempotency-Key, and gives up past the bound", async () => {
    const watch: WatchInput = { contentHash: "0x" + "ab".repeat(32), manifestUri: "ipfs://bafy", registryAddress: "0x" + "2".repeat(40) };
    const created: WatchAccepted = { watchId: accepted.jobId!, jobId: accepted.jobId!, status: "queued", pollUrl: `/api/watches/${accepted.jobId}` };
    const sent: WatchInput[] = [];
    const answers: (WatchAccepted | Error)[] = [busy(), new ApiError(429, "E_RATE_LIMITED", "slow down", null, "1"), created];
    const api = {
      createWatch: async (i: WatchInput) => {
        sent.push(i);
        const next = answers.shift()!;
        if (next instanceof Error) throw next;
        return next;
      },
    } as unknown as ApiClient;
    await expect(createWatchWithRetries(api, watch, { retryForMs: 60_000, onWait: () => {} })).resolves.toBe(created);
    expect(sent).toHaveLength(3);
    expect(sent[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(sent.map((s) => s.idempotencyKey)).size).toBe(1);
    expect(sent.every((s) => s.contentHash === watch.contentHash)).toBe(true);

    answers.push(busy());
    await expect(createWatchWithRetries(api, watch, { retryForMs: 0, onWait: () => {} })).rejects.toThrow(/not retried/);
  });
});
