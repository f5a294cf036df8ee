import { describe, expect, it } from "vitest";
import { HttpError } from "@veriflow/errors";
import type { JobFilter__Output } from "@veriflow/grpc";
import { parseFilter } from "./grpc-mapping.js";

const filter = (f: Partial<JobFilter__Output>): JobFilter__Output => ({
  status: "JOB_STATUS_UNSPECIFIED",
  type: "JOB_TYPE_UNSPECIFIED",
  contentHash: "",
  createdAfter: null,
  createdBefore: null,
  ...f,
});

describe("parseFilter: created_after and created_before", () => {
  it("reads a Timestamp anywhere in the range the type defines, to the millisecond", () => {
    expect(parseFilter(filter({ createdAfter: { seconds: "1700000000", nanos: 123_999_999 } })).createdAfter).toEqual(new Date(1_700_000_000_123));
    expect(parseFilter(filter({ createdAfter: { seconds: "-62135596800", nanos: 0 } })).createdAfter?.toISOString()).toBe("0001-01-01T00:00:00.000Z");
    expect(parseFilter(filter({ createdBefore: { seconds: "253402300799", nanos: 999_999_999 } })).createdBefore?.toISOString()).toBe("9999-12-31T23:59:59.999Z");
  });

  it("refuses one outside it with INVALID_ARGUMENT E_INVALID_FILTER (it was INTERNAL: an invalid date reached PostgreSQL)", () => {
    for (const t of [
      { seconds: "9223372036854775807", nanos: 0 },
      { seconds: "-9223372036854775808", nanos: 0 },
      { seconds: "253402300800", nanos: 0 },
      { seconds: "-62135596801", nanos: 0 },
      { seconds: "0", nanos: -1 },
      { seconds: "0", nanos: 1_000_000_000 },
    ]) {
      for (const f of [filter({ createdAfter: t }), filter({ createdBefore: t })]) {
        expect(() => parseFilter(f), JSON.stringify(f)).toThrow(HttpError);
        expect(() => parseFilter(f), JSON.stringify(f)).toThrow(/must be a timestamp from 0001-01-01 to 9999-12-31/);
      }
    }
  });
});
