import { createRequire } from "node:module";
import { JetStreamApiError } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { HttpError } from "@veriflow/errors";
import { describe, expect, it } from "vitest";
import { uploadError } from "./multipart.js";

// multer's real error class (its typings are not installed, so it is loaded untyped).
const { MulterError } = createRequire(import.meta.url)("multer") as { MulterError: new (code: string, field?: string) => Error };

describe("uploadError", () => {
  it("answers multer's errors by their code", () => {
    const cases: [string, number, string][] = [
      ["LIMIT_FILE_SIZE", 413, "E_FILE_TOO_LARGE"],
      ["LIMIT_UNEXPECTED_FILE", 400, "E_UNEXPECTED_FILE"],
      ["LIMIT_FIELD_COUNT", 400, "E_BAD_MULTIPART"],
      ["LIMIT_PART_COUNT", 400, "E_BAD_MULTIPART"],
      ["MISSING_FIELD_NAME", 400, "E_BAD_MULTIPART"],
      ["STREAM_DESTROYED", 400, "E_UPLOAD_ABORTED"],
    ];
    for (const [code, status, answer] of cases) expect(uploadError(new MulterError(code), 100), code).toMatchObject({ status, code: answer });
  });

  it("answers busboy's malformed bodies and multer's early ends as the client's, anything else as the storage's", () => {
    expect(uploadError(new Error("Unexpected end of form"), 100)).toMatchObject({ status: 400, code: "E_BAD_MULTIPART" });
    expect(uploadError(new Error("Multipart: Boundary not found"), 100)).toMatchObject({ status: 400, code: "E_BAD_MULTIPART" });
    expect(uploadError(new Error("Request aborted"), 100)).toMatchObject({ status: 400, code: "E_UPLOAD_ABORTED" });
    expect(uploadError(new Error("Request closed"), 100)).toMatchObject({ status: 400, code: "E_UPLOAD_ABORTED" });
    const cutOff = Object.assign(new Error("the upload stream closed before its end"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
    expect(uploadError(cutOff, 100)).toMatchObject({ status: 400, code: "E_UPLOAD_ABORTED" });
    const stored = new errors.TimeoutError();
    expect(uploadError(stored, 100)).toMatchObject({ status: 503, code: "E_STORAGE_UNAVAILABLE", cause: stored });
    // A look-alike code on another error is not multer's.
    expect(uploadError(Object.assign(new Error("disk"), { code: "LIMIT_FILE_SIZE" }), 100)).toMatchObject({ status: 503, code: "E_STORAGE_UNAVAILABLE" });
  });

  it("keeps a storage engine's own answer, and answers a full bucket 507 with Retry-After", () => {
    const refused = new HttpError("E_INVALID_REGISTRY_ADDRESS", "bad");
    expect(uploadError(refused, 100)).toBe(refused);
    // What nats-server 2.9 answers a put into a discard-new bucket at its max_bytes.
    const full = new JetStreamApiError({ code: 503, err_code: 10077, description: "maximum bytes exceeded" });
    expect(uploadError(full, 100)).toMatchObject({ status: 507, code: "E_STORAGE_FULL", retryAfterSeconds: 10, cause: full });
  });
});
