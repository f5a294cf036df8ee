import { describe, expect, it } from "vitest";
import { isDatabaseUnavailableError } from "./availability.js";

// postgres.js raises a PostgresError with the SQLSTATE as `code`; its own and Node's connection errors carry other codes.
const pgError = (code: string) => Object.assign(new Error("x"), { name: "PostgresError", code });

describe("isDatabaseUnavailableError", () => {
  it("is true for connection, resource, shutdown and rollback failures, through causes", () => {
    for (const code of ["08006", "53300", "53100", "57P01", "57014", "40001", "40P01", "55P03", "58030"]) {
      expect(isDatabaseUnavailableError(pgError(code)), code).toBe(true);
    }
    for (const code of ["ECONNREFUSED", "CONNECTION_CLOSED", "CONNECT_TIMEOUT"]) {
      expect(isDatabaseUnavailableError(Object.assign(new Error("x"), { code })), code).toBe(true);
    }
    expect(isDatabaseUnavailableError(new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) }))).toBe(true);
  });

  it("is false for data the server refuses and for errors without a code", () => {
    for (const code of ["22P05", "22021", "23505", "23514", "42P01"]) expect(isDatabaseUnavailableError(pgError(code)), code).toBe(false);
    expect(isDatabaseUnavailableError(Object.assign(new Error("x"), { code: undefined }))).toBe(false);
    expect(isDatabaseUnavailableError(new TypeError("boom"))).toBe(false);
  });
});
