import { describe, expect, it } from "vitest";
import { presentedApiKey } from "./api-key.js";

describe("presentedApiKey: where REST and gRPC requests send their key", () => {
  const table: [Record<string, string>, string | undefined][] = [
    [{ "x-api-key": "k-one" }, "k-one"],
    [{ "x-api-key": " k-one " }, "k-one"],
    [{ authorization: "Bearer k-one" }, "k-one"],
    [{ authorization: "bearer   k two  " }, "k two"],
    [{ "x-api-key": "k-one", authorization: "Bearer other" }, "k-one"],
    [{ "x-api-key": "", authorization: "Bearer k-one" }, "k-one"],
    [{ authorization: "Basic k-one" }, undefined],
    [{ authorization: "k-one" }, undefined],
    [{ authorization: "Bearer " }, undefined],
    [{ "api-key": "k-one" }, undefined],
    [{}, undefined],
  ];

  it.each(table)("headers %j: %s", (headers, expected) => {
    expect(presentedApiKey((name) => headers[name])).toBe(expected);
  });
});
