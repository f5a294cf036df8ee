import { EventDecodeError } from "@veriflow/events";
import { PermanentError } from "@veriflow/errors";
import { describe, expect, it } from "vitest";
import { deadLetterReason } from "./dead-letter.js";
import { observeStageDuration, stageSeconds } from "./metrics.js";

const observed = async (consumer: string, outcome: string) => {
  const values = (await stageSeconds.get()).values.filter((v) => v.labels.consumer === consumer && v.labels.outcome === outcome);
  const value = (suffix: string) => values.find((v) => v.metricName === `veriflow_stage_duration_seconds${suffix}`)?.value ?? 0;
  return { count: value("_count"), sum: value("_sum") };
};

describe("observeStageDuration", () => {
  it("observes the event's age when its outputs are published, in seconds", async () => {
    observeStageDuration("unit-a", { occurredAt: "2025-01-01T00:00:00.000Z" }, "ok", Date.parse("2025-01-01T00:00:02.500Z"));
    expect(await observed("unit-a", "ok")).toEqual({ count: 1, sum: 2.5 });
  });

  it("reads a producer's clock ahead of ours as 0, and skips an unreadable time", async () => {
    observeStageDuration("unit-b", { occurredAt: "2025-01-01T00:00:05.000Z" }, "failed", Date.parse("2025-01-01T00:00:00.000Z"));
    observeStageDuration("unit-b", { occurredAt: "not a time" }, "failed");
    expect(await observed("unit-b", "failed")).toEqual({ count: 1, sum: 0 });
  });
});

describe("deadLetterReason", () => {
  it("is a bounded label: undecodable, the error's code, or other", () => {
    expect(deadLetterReason(new EventDecodeError("event is not JSON"))).toBe("undecodable");
    expect(deadLetterReason(new PermanentError("E_BAD_REQUEST", "bad"))).toBe("E_BAD_REQUEST");
    expect(deadLetterReason(new Error(`duplicate key value ${Math.random()}`))).toBe("other");
  });
});
