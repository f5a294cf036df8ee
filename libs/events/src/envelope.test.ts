import { describe, expect, it } from "vitest";
import { deriveEventId, isJobId, newJobId } from "./envelope.js";

describe("isJobId", () => {
  it("accepts the ids this system mints, in any case", () => {
    const id = newJobId();
    expect(isJobId(id)).toBe(true);
    expect(isJobId(id.toUpperCase())).toBe(true);
    expect(isJobId(deriveEventId(id, "content.hashed"))).toBe(true);
  });

  it("refuses anything else", () => {
    const id = newJobId();
    for (const bad of ["", "not-a-job", id.slice(1), `${id}x`, ` ${id}`, id.replaceAll("-", ""), `${id}\n`, id.replace(/^./, "g")]) {
      expect(isJobId(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
