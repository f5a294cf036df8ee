import { describe, expect, it } from "vitest";
import { failureError } from "./failure-status.js";
import { parseWait } from "./sync-wait.js";

describe("parseWait", () => {
  it("reads seconds, caps them at the sync timeout, and treats absent or 0 as no wait", () => {
    expect(parseWait(undefined, 30_000)).toBeNull();
    expect(parseWait("0", 30_000)).toBeNull();
    expect(parseWait("2", 30_000)).toBe(2000);
    expect(parseWait("0.25", 30_000)).toBe(250);
    expect(parseWait("3600", 30_000)).toBe(30_000);
  });

  it("answers 400 E_INVALID_WAIT for anything else", () => {
    for (const raw of ["", "abc", "-1", "1e3", "Infinity", ["1", "2"]]) {
      expect(() => parseWait(raw, 30_000), JSON.stringify(raw)).toThrow(expect.objectContaining({ status: 400, code: "E_INVALID_WAIT" }));
    }
  });
});

describe("failureError", () => {
  it("answers a failed job with its code and the catalog's status for it", () => {
    const expected: Record<string, number> = {
      E_MANIFEST_NOT_FOUND: 422,
      E_MANIFEST_INVALID: 422,
      E_CID_MISMATCH: 422,
      E_IPFS_PATH_NOT_FOUND: 422,
      E_REGISTRY_NOT_CONTRACT: 422,
      E_REGISTRY_INCOMPATIBLE: 422,
      E_RPC_URL_NOT_ALLOWED: 400,
      E_MANIFEST_UNAVAILABLE: 502,
      E_IPFS_UNAVAILABLE: 502,
      E_RPC_UNAVAILABLE: 502,
      E_UPLOAD_NOT_FOUND: 503,
      E_INTERNAL: 500,
    };
    for (const [code, status] of Object.entries(expected)) expect(failureError(code, "m", {}).status, code).toBe(status);
    expect(failureError("E_MANIFEST_INVALID", "bad json", { jobId: "j" })).toMatchObject({ code: "E_MANIFEST_INVALID", message: "bad json", expose: true, details: { jobId: "j" } });
  });

  it("answers a code this build does not know as E_INTERNAL, keeping the stage's code", () => {
    expect(failureError("E_FROM_A_NEWER_STAGE", "m", { jobId: "j" })).toMatchObject({ status: 500, code: "E_INTERNAL", details: { jobId: "j", failureCode: "E_FROM_A_NEWER_STAGE" } });
  });
});
