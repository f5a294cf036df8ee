import { describe, expect, it } from "vitest";
import { EnvReader } from "@veriflow/platform";
import { createApiKeyCheck, readApiKeys } from "./api-key.js";

/** The outcome of one request presenting `headers` (lower-case names, as Koa and gRPC metadata give them). */
function outcome(keys: string[], headers: Record<string, string>): string {
  try {
    createApiKeyCheck(keys)((name) => headers[name]);
    return "ok";
  } catch (err) {
    const e = err as { status: number; code: string; message: string };
    return `${e.status} ${e.code} ${/required/.test(e.message) ? "missing" : "invalid"}`;
  }
}

describe("createApiKeyCheck: the one API-key check of REST and gRPC", () => {
  const keys = ["k-one", "k two"];
  const table: [Record<string, string>, string][] = [
    [{ "x-api-key": "k-one" }, "ok"],
    [{ "x-api-key": "k two" }, "ok"],
    [{ "x-api-key": " k-one " }, "ok"],
    [{ authorization: "Bearer k-one" }, "ok"],
    [{ authorization: "bearer   k two  " }, "ok"],
    [{ "x-api-key": "k-one", authorization: "Bearer wrong" }, "ok"],
    [{ "x-api-key": "wrong", authorization: "Bearer k-one" }, "401 E_UNAUTHORIZED invalid"],
    [{ "x-api-key": "", authorization: "Bearer k-one" }, "ok"],
    [{ "x-api-key": "k-on" }, "401 E_UNAUTHORIZED invalid"],
    [{ "x-api-key": "K-ONE" }, "401 E_UNAUTHORIZED invalid"],
    [{ "x-api-key": "k-one,k two" }, "401 E_UNAUTHORIZED invalid"],
    [{ authorization: "Basic k-one" }, "401 E_UNAUTHORIZED missing"],
    [{ authorization: "k-one" }, "401 E_UNAUTHORIZED missing"],
    [{ authorization: "Bearer " }, "401 E_UNAUTHORIZED missing"],
    [{ "api-key": "k-one" }, "401 E_UNAUTHORIZED missing"],
    [{}, "401 E_UNAUTHORIZED missing"],
  ];

  it.each(table)("keys configured, request %j: %s", (headers, expected) => {
    expect(outcome(keys, headers)).toBe(expected);
  });

  it("lets every request through when no key is configured", () => {
    expect(outcome([], {})).toBe("ok");
    expect(outcome([], { "x-api-key": "anything" })).toBe("ok");
  });

  it("tells a client without a key where to send it", () => {
    expect(() => createApiKeyCheck(["k"])(() => undefined)).toThrow(/x-api-key: <key> or authorization: Bearer <key>/);
  });
});

describe("readApiKeys", () => {
  it("reads API_KEYS comma-separated, blanks dropped; unset is none", () => {
    expect(readApiKeys(new EnvReader({ API_KEYS: " k-one, k two ,, " }))).toEqual(["k-one", "k two"]);
    expect(readApiKeys(new EnvReader({}))).toEqual([]);
  });
});
