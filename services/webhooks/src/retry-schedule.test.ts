import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE_MS, nextAttemptAt, retryDelayMs } from "./retry-schedule.js";

const mid = () => 0.5;

describe("retryDelayMs", () => {
  it("follows the schedule: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then 8 h", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20].map((n) => retryDelayMs(n, DEFAULT_RETRY_SCHEDULE_MS, mid) / 1000);
    expect(delays).toEqual([5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800]);
  });

  it("jitters each delay by at most ±20 %", () => {
    expect(retryDelayMs(2, DEFAULT_RETRY_SCHEDULE_MS, () => 0)).toBe(24_000);
    expect(retryDelayMs(2, DEFAULT_RETRY_SCHEDULE_MS, () => 1)).toBe(36_000);
    for (let i = 0; i < 100; i++) {
      const d = retryDelayMs(1, DEFAULT_RETRY_SCHEDULE_MS);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(6000);
    }
  });

  it("grows roughly exponentially", () => {
    for (let n = 1; n < DEFAULT_RETRY_SCHEDULE_MS.length; n++) {
      expect(retryDelayMs(n + 1, DEFAULT_RETRY_SCHEDULE_MS, mid)).toBeGreaterThan(retryDelayMs(n, DEFAULT_RETRY_SCHEDULE_MS, mid));
    }
  });
});

describe("nextAttemptAt", () => {
  const start = new Date("2026-01-01T00:00:00Z");
  const expires = new Date(start.getTime() + 24 * 3_600_000);

  it("keeps retrying for about a day with the default schedule, then stops", () => {
    let now = start;
    let attempts = 1;
    for (;;) {
      const next = nextAttemptAt(attempts, now, expires, DEFAULT_RETRY_SCHEDULE_MS, mid);
      if (!next) break;
      now = next;
      attempts++;
    }
    // 5 s + 30 s + 2 m + 10 m + 30 m + 1 h + 2 h + 4 h ≈ 7.7 h, then 8 h twice: 11 attempts within 24 h.
    expect(attempts).toBe(11);
    expect(now.getTime() - start.getTime()).toBeLessThanOrEqual(24 * 3_600_000);
  });

  it("answers null when the next attempt would start after the expiry", () => {
    expect(nextAttemptAt(1, start, new Date(start.getTime() + 4000), DEFAULT_RETRY_SCHEDULE_MS, mid)).toBeNull();
    expect(nextAttemptAt(1, start, new Date(start.getTime() + 5000), DEFAULT_RETRY_SCHEDULE_MS, mid)).toEqual(new Date(start.getTime() + 5000));
  });
});
