import { describe, expect, it } from "vitest";
import { EnvReader } from "@veriflow/platform";
import { loadConfig } from "./config.js";
import { limitsOfTenant, parseRateLimits, readRateLimitConfig } from "./rate-limit-config.js";

const read = (env: Record<string, string>) => {
  const r = new EnvReader(env);
  return { config: readRateLimitConfig(r), problems: r.problems };
};

describe("RATE_LIMITS", () => {
  it("defaults to a minute's window: 6000 submissions and 24000 other requests per key, a tenth of that per client address", () => {
    expect(read({}).config).toMatchObject({
      windowMs: 60_000,
      perKey: { submit: 6000, read: 24_000 },
      perIp: { submit: 600, read: 2400 },
      maxBytes: 16 * 1024 ** 2,
    });
    // The defaults are rates: another window scales them.
    expect(read({ RATE_LIMIT_WINDOW_MS: "1000" }).config).toMatchObject({ perKey: { submit: 100, read: 400 }, perIp: { submit: 10, read: 40 } });
  });

  it("takes key, ip and tenant entries, each <submit>/<read> per window; a tenant name may hold colons", () => {
    const { config, problems } = read({ RATE_LIMITS: " key:10/40 , ip:2/8, tenant:acme:100/400,tenant:org:eu:5/6", RATE_LIMIT_WINDOW_MS: "10000" });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ windowMs: 10_000, perKey: { submit: 10, read: 40 }, perIp: { submit: 2, read: 8 } });
    expect([...config!.tenants]).toEqual([
      ["acme", { submit: 100, read: 400 }],
      ["org:eu", { submit: 5, read: 6 }],
    ]);
    // An entry left out keeps its default.
    expect(read({ RATE_LIMITS: "tenant:acme:1/1" }).config).toMatchObject({ perKey: { submit: 6000 }, perIp: { submit: 600 } });
  });

  it("looks a key's limits up by its tenant; a key without a tenant, or of a tenant without an entry, gets the key limits", () => {
    const lookup = limitsOfTenant(read({ RATE_LIMITS: "key:10/40,tenant:acme:100/400" }).config!);
    expect(lookup("acme")).toEqual({ submit: 100, read: 400 });
    expect(lookup("other")).toEqual({ submit: 10, read: 40 });
    expect(lookup(undefined)).toEqual({ submit: 10, read: 40 });
  });

  it("is turned off by `off`", () => {
    expect(read({ RATE_LIMITS: "OFF" }).config).toBeNull();
  });

  it.each([
    ["key=10/40", /RATE_LIMITS entry "key=10\/40" must be <who>:<submit>\/<read>/],
    ["keys:10/40", /entry "keys:10\/40" must be/],
    ["tenant:10/40", /entry "tenant:10\/40" must be/],
    ["key:10", /entry "key:10" must be/],
    ["key:ten/40", /entry "key:ten\/40" must be/],
    ["key:-1/40", /entry "key:-1\/40" must be/],
    ["key:0/40", /each count must be 1 to 1000000000 \(RATE_LIMITS=off turns limits off\)/],
    ["key:1/2,key:3/4", /RATE_LIMITS names key twice/],
  ])("refuses %j with a message saying what to write", (text, message) => {
    const problems: string[] = [];
    parseRateLimits(text, problems);
    expect(problems).toEqual([expect.stringMatching(message)]);
  });

  it("is checked with the rest of the gateway's config, every problem at once", () => {
    expect(() => loadConfig({ DATABASE_URL: "postgres://veriflow@127.0.0.1:5432/veriflow", RATE_LIMITS: "key:1/x,ip:0/1", RATE_LIMIT_WINDOW_MS: "10" })).toThrow(
      /RATE_LIMIT_WINDOW_MS must be >= 1000[\s\S]*"key:1\/x" must be[\s\S]*"ip:0\/1": each count/,
    );
    expect(loadConfig({ DATABASE_URL: "postgres://veriflow@127.0.0.1:5432/veriflow" }).trustedProxyHops).toBe(0);
  });
});
