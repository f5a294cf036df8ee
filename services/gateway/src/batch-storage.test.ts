import { describe, expect, it } from "vitest";
import { checkBatchFileName } from "./batch-storage.js";

describe("checkBatchFileName", () => {
  it("takes a plain name and refuses none, a path, a control character or one too long, with E_FILE_NAME_INVALID", () => {
    expect(checkBatchFileName("photo 1.jpg")).toBeNull();
    expect(checkBatchFileName("Ünïcode — ok.png")).toBeNull();
    for (const bad of [undefined, "", "a/b.txt", "..\\\\x", "..", "tab\there", "bidi\u202e.txt", "x".repeat(256)]) {
      expect(checkBatchFileName(bad)?.code, JSON.stringify(bad)).toBe("E_FILE_NAME_INVALID");
    }
  });
});
