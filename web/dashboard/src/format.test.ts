import { describe, expect, it } from "vitest";
import { formatAge, formatBytes, formatDuration, formatPeriod, parseSearch, shortHex } from "./format.js";
import { minuteSeries, rates } from "./pipeline-series.js";
import { parseRoute, hrefOf } from "./router.js";

describe("formatting", () => {
  it("writes ages, durations and sizes as people read them", () => {
    expect([formatAge(-5), formatAge(4_900), formatAge(180_000), formatAge(7_200_000), formatAge(5 * 86_400_000)]).toEqual(["0 s", "4 s", "3 min", "2 h", "5 d"]);
    expect([formatDuration(850.4), formatDuration(1234), formatDuration(150_000), formatDuration(null), formatDuration(NaN)]).toEqual(["850 ms", "1.2 s", "2.5 min", "–", "–"]);
    expect([formatBytes(512), formatBytes(1536), formatBytes(2 * 1024 ** 2), formatBytes(null)]).toEqual(["512 B", "1.5 KB", "2.0 MB", "–"]);
    // A re-check schedule exactly, not rounded as an age is: 90 minutes is not "1 h".
    expect([formatPeriod(21_600), formatPeriod(86_400), formatPeriod(5_400), formatPeriod(45)]).toEqual(["6 h", "1 d", "90 min", "45 s"]);
    expect(shortHex("0x" + "ab".repeat(32))).toBe("0xabab…abab");
    expect(shortHex("0x1234")).toBe("0x1234");
  });

  it("tells a job id from a content hash in the search box", () => {
    const hash = "AB".repeat(32);
    expect(parseSearch("  ")).toEqual({ kind: "none" });
    expect(parseSearch(" 0F8FAD5B-D9CB-469F-A165-70867728950E ")).toEqual({ kind: "jobId", value: "0f8fad5b-d9cb-469f-a165-70867728950e" });
    expect(parseSearch(`0x${hash}`)).toEqual({ kind: "contentHash", value: `0x${hash.toLowerCase()}` });
    expect(parseSearch(hash)).toEqual({ kind: "contentHash", value: `0x${hash.toLowerCase()}` });
    expect(parseSearch("0x1234").kind).toBe("invalid");
  });
});

describe("pipeline series", () => {
  it("turns two readings of the ack floors into rates, a counter that went back into 0", () => {
    expect(rates({ at: 0, acked: { hashing: 10, manifest: 50 } }, { at: 2000, acked: { hashing: 30, manifest: 40, new: 3 } })).toEqual({ hashing: 10, manifest: 0 });
    expect(rates({ at: 5, acked: { a: 1 } }, { at: 5, acked: { a: 2 } })).toEqual({});
  });

  it("fills every minute of the window, zero where nothing finished", () => {
    const since = Date.UTC(2026, 0, 1, 10, 0);
    const [xs, completed, failed] = minuteSeries([{ minute: new Date(since + 120_000).toISOString(), completed: 7, failed: 1 }], since, since + 3 * 60_000 + 5_000);
    expect(xs).toEqual([0, 1, 2, 3].map((m) => since / 1000 + m * 60));
    expect(completed).toEqual([0, 0, 7, 0]);
    expect(failed).toEqual([0, 0, 1, 0]);
  });
});

describe("routes", () => {
  it("reads every view's path and writes it back", () => {
    const routes = [{ name: "jobs" }, { name: "job", jobId: "0f8fad5b-d9cb-469f-a165-70867728950e" }, { name: "watches" }, { name: "pipeline" }, { name: "dead-letters", seq: null }, { name: "dead-letters", seq: 12 }, { name: "submit" }] as const;
    for (const r of routes) expect(parseRoute(hrefOf(r))).toEqual(r);
    expect(parseRoute("/dashboard/nowhere")).toEqual({ name: "jobs" });
    expect(parseRoute("/dashboard")).toEqual({ name: "jobs" });
  });
});
