import { describe, expect, it } from "vitest";
import { ApiError, InterruptedError, UnreachableError, UsageError, WaitTimeoutError } from "./errors.js";
import { EXIT, EXIT_CODES_HELP, exitCodeForError, exitCodeForJob } from "./exit-codes.js";

describe("exit codes", () => {
  it("a finished job exits with its verdict; a failed job with 4", () => {
    expect(exitCodeForJob({ status: "completed", result: { status: "OK" } })).toBe(0);
    expect(exitCodeForJob({ status: "completed", result: { status: "FAIL" } })).toBe(1);
    expect(exitCodeForJob({ status: "completed", result: { status: "WARN" } })).toBe(3);
    expect(exitCodeForJob({ status: "failed", result: null })).toBe(4);
  });

  it("an unfinished job or a verdict nobody knows is a bug, not a success", () => {
    expect(() => exitCodeForJob({ status: "processing", result: null })).toThrow(/not finished/);
    expect(() => exitCodeForJob({ status: "completed", result: { status: "MAYBE" } })).toThrow(/without a verdict/);
  });

  it("errors map to documented codes", () => {
    expect(exitCodeForError(new UsageError("x"))).toBe(2);
    expect(exitCodeForError(new ApiError(400, "E_INVALID_REGISTRY_ADDRESS", "x"))).toBe(5);
    expect(exitCodeForError(new ApiError(503, "E_STATUS_UNAVAILABLE", "x"))).toBe(5);
    expect(exitCodeForError(new UnreachableError("x"))).toBe(5);
    // the in-process fallback answers a stage failure at once: the same as a failed job
    expect(exitCodeForError(new ApiError(422, "E_MANIFEST_NOT_FOUND", "x"))).toBe(4);
    expect(exitCodeForError(new ApiError(502, "E_RPC_UNAVAILABLE", "x"))).toBe(4);
    expect(exitCodeForError(new ApiError(502, "HTTP_502", "Bad Gateway"))).toBe(5);
    expect(exitCodeForError(new WaitTimeoutError("id", "processing"))).toBe(6);
    expect(exitCodeForError(new InterruptedError("id"))).toBe(130);
    expect(exitCodeForError(new TypeError("bug"))).toBe(70);
  });

  it("--help documents every code there is", () => {
    for (const code of Object.values(EXIT)) expect(EXIT_CODES_HELP).toMatch(new RegExp(`^  ${code}\\s`, "m"));
  });
});
