import { describe, expect, it } from "vitest";
import { ConfigError, EnvReader, type Env } from "./config.js";
import { describeNatsAuth, readNatsConnectionConfig } from "./nats-config.js";

function read(env: Env) {
  const r = new EnvReader(env);
  const config = readNatsConnectionConfig(r);
  r.done();
  return config;
}

/** The one ConfigError reading `env` throws. */
function problems(env: Env): ConfigError {
  try {
    read(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("NATS connection settings from the environment", () => {
  it("connects anonymously to the local server by default", () => {
    expect(read({})).toEqual({ url: "nats://127.0.0.1:4222", auth: null, tls: null });
  });

  it("takes credentials out of NATS_URL (nats.js would drop them), leaving a URL safe to log", () => {
    expect(read({ NATS_URL: "nats://gateway:s3cr%40t@nats:4222" })).toEqual({
      url: "nats://nats:4222",
      auth: { kind: "password", user: "gateway", password: "s3cr@t" },
      tls: null,
    });
    // A lone value is a token, NATS's own convention; every server of a list must carry the same.
    expect(read({ NATS_URL: "nats://t0ken@a:4222, nats://t0ken@b:4222" })).toMatchObject({ url: "nats://a:4222,nats://b:4222", auth: { kind: "token", token: "t0ken" } });
    expect(problems({ NATS_URL: "nats://a:1@a:4222,nats://b:2@b:4222" }).problems).toEqual([expect.stringMatching(/same credentials/)]);
  });

  it("reads a user and password, a token, an nkey seed (or its file) or a creds file: one of them", () => {
    expect(read({ NATS_USER: "hashing", NATS_PASSWORD: "pw" }).auth).toEqual({ kind: "password", user: "hashing", password: "pw" });
    expect(read({ NATS_TOKEN: "tok" }).auth).toEqual({ kind: "token", token: "tok" });
    expect(read({ NATS_NKEY_SEED: "SUAB" }).auth).toEqual({ kind: "nkey", seed: "SUAB" });
    expect(read({ NATS_NKEY_SEED_FILE: "/run/secrets/seed" }).auth).toEqual({ kind: "nkey-file", seedFile: "/run/secrets/seed" });
    expect(read({ NATS_CREDS_FILE: "/run/secrets/user.creds" }).auth).toEqual({ kind: "creds", credsFile: "/run/secrets/user.creds" });
    const twice = problems({ NATS_URL: "nats://u:hunter2@nats:4222", NATS_USER: "u", NATS_PASSWORD: "hunter2", NATS_TOKEN: "tok" });
    expect(twice.problems).toEqual([expect.stringMatching(/more than one way \(credentials in NATS_URL, NATS_USER, NATS_TOKEN\)/)]);
    expect(problems({ NATS_USER: "u" }).problems).toEqual(["NATS_USER is set without NATS_PASSWORD"]);
    expect(problems({ NATS_PASSWORD: "pw" }).problems).toEqual(["NATS_PASSWORD is set without NATS_USER"]);
  });

  it("asks for TLS with a tls:// URL or any of NATS_TLS_CA, NATS_TLS_CERT, NATS_TLS_KEY; a client certificate needs its key", () => {
    expect(read({ NATS_URL: "tls://nats:4222" })).toMatchObject({ url: "tls://nats:4222", tls: {} });
    expect(read({ NATS_TLS_CA: "/ca.pem" }).tls).toEqual({ caFile: "/ca.pem" });
    expect(read({ NATS_TLS_CA: "/ca.pem", NATS_TLS_CERT: "/c.pem", NATS_TLS_KEY: "/k.pem" }).tls).toEqual({ caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem" });
    expect(problems({ NATS_TLS_CERT: "/c.pem" }).problems).toEqual(["NATS_TLS_CERT and NATS_TLS_KEY must be set together"]);
  });

  it("never repeats a secret: not in a problem, not in the description logged at connect", () => {
    const bad = problems({ NATS_URL: "http://u:hunter2@nats:4222", NATS_TOKEN: "tok-secret" });
    expect(bad.message).not.toMatch(/hunter2|tok-secret/);
    expect(bad.problems).toHaveLength(1);
    for (const env of [{ NATS_URL: "nats://u:hunter2@nats" }, { NATS_TOKEN: "hunter2" }, { NATS_NKEY_SEED: "hunter2" }]) {
      const config = read(env);
      expect(`${config.url} ${describeNatsAuth(config.auth)}`).not.toMatch(/hunter2/);
    }
    expect(describeNatsAuth(read({ NATS_URL: "nats://u:hunter2@nats" }).auth)).toBe("user u");
  });
});
