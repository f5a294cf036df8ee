import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { ERRORS_DOC, isErrorsDocCurrent, renderErrorsDoc } from "../scripts/generate-errors-doc.js";
import { errorCodes, errorSpec } from "./catalog.js";

describe("docs/errors.md", () => {
  it("is up to date with the catalog (run `npm run generate:errors-doc` if not)", async () => {
    expect(await isErrorsDocCurrent()).toBe(true);
  });

  it("has a row per code with its statuses and description", async () => {
    const doc = await readFile(ERRORS_DOC, "utf8");
    for (const code of errorCodes) {
      const s = errorSpec(code);
      expect(doc).toContain(`| \`${code}\` | ${s.kind} | ${s.http} | ${s.grpc} |`);
    }
    expect(renderErrorsDoc()).toMatch(/## Codes of a failed job\n[\s\S]*`E_REGISTRY_INCOMPATIBLE`/);
  });
});
