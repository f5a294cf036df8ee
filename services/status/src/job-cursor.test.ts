import { describe, expect, it } from "vitest";
import { decodeJobCursor, encodeJobCursor } from "./job-cursor.js";

describe("job cursors", () => {
  it("reads a cursor it issued and nothing else", () => {
    const cursor = { createdAt: new Date("2025-03-04T05:06:07.089Z"), id: "7d0c2b0e-4c1f-4d55-9d7e-0b3c8b0f9a11" };
    expect(decodeJobCursor(encodeJobCursor(cursor))).toEqual(cursor);
    const token = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    for (const bad of ["", "%%%", token({ c: "yesterday", i: cursor.id }), token({ c: "2025-01-01T00:00:00Z" }), token({ c: "+012025-01-01T00:00:00.000Z", i: cursor.id }), token({ c: "2025-01-01T00:00:00Z", i: "a\u0000b" }), token([1, 2])]) {
      expect(decodeJobCursor(bad), bad).toBeNull();
    }
  });
});
