import { describe, expect, it } from "vitest";
import { HttpError } from "@veriflow/errors";
import { encodeJobCursor } from "./job-cursor.js";
import { parseListQuery } from "./list-query.js";
import { parseDeadLetterQuery } from "./dead-letters.js";

const problemsOf = (read: () => unknown): string[] => {
  try {
    read();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).code).toBe("E_INVALID_QUERY");
    return ((err as HttpError).details as { problems: string[] }).problems;
  }
  throw new Error("accepted");
};

describe("parseListQuery (ListJobsQuery of libs/api)", () => {
  it("reads defaults, clamps the limit and decodes a cursor", () => {
    expect(parseListQuery({})).toEqual({ limit: 20, offset: 0 });
    expect(parseListQuery({ status: "", limit: "500", offset: "3" })).toEqual({ limit: 100, offset: 3 });
    const cursor = { createdAt: new Date("2025-01-01T00:00:00.000Z"), id: "7d3f0c1e-0000-4000-8000-00000000beef" };
    expect(parseListQuery({ status: "failed", cursor: encodeJobCursor(cursor) })).toEqual({ status: "failed", limit: 20, offset: 0, cursor });
  });

  it("names every problem at once, as a person reads it", () => {
    const cursor = encodeJobCursor({ createdAt: new Date(), id: "7d3f0c1e-0000-4000-8000-00000000beef" });
    expect(problemsOf(() => parseListQuery({ status: "done", limit: ["1", "2"], offset: "1.5", cursor: "nope" }))).toEqual([
      'status must be one of queued, processing, completed, failed, got "done"',
      "limit may be given once",
      'offset must be a non-negative integer, got "1.5"',
      "cursor is not one this server issued (a nextCursor); start again without it",
    ]);
    expect(problemsOf(() => parseListQuery({ offset: "5", cursor }))).toEqual(["give offset or cursor, not both"]);
    expect(problemsOf(() => parseListQuery({ offset: "99999999999999999999" }))).toEqual(['offset must be a non-negative integer, got "99999999999999999999"']);
  });
});

describe("parseDeadLetterQuery (DeadLetterQuery of libs/api)", () => {
  it("reads consumer, after and limit (at least 1, at most 100)", () => {
    expect(parseDeadLetterQuery({ consumer: "hashing", after: "7", limit: "1000" })).toEqual({ consumer: "hashing", after: 7, limit: 100 });
    expect(problemsOf(() => parseDeadLetterQuery({ consumer: "a b", limit: "0" }))).toEqual([
      `consumer must be a consumer's durable name (letters, digits, - and _), got "a b"`,
      'limit must be an integer >= 1, got "0"',
    ]);
  });
});
