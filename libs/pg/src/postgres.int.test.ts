import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { HttpError } from "@veriflow/errors";
import { EnvReader } from "@veriflow/platform";
import { createTestDatabase, findFreePort, type TestDatabase } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseNotReadyError, databaseUnavailable, isDatabaseUnavailableError, translateDatabaseError } from "./availability.js";
import { readPostgresConfig } from "./config.js";
import { connectPostgres, pingPostgres } from "./postgres.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** A TCP server that accepts connections and never says a word: a stalled PostgreSQL. */
async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const caught = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);

describe("connectPostgres timeouts", () => {
  it("cancels a statement that outlasts statementTimeoutMs, as a database-unavailable error", async () => {
    const sql = connectPostgres(db.url, { max: 1, statementTimeoutMs: 200 });
    try {
      const started = Date.now();
      const err = await caught(sql`select pg_sleep(5)`);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(err).toMatchObject({ name: "PostgresError", code: "57014" });
      expect(isDatabaseUnavailableError(err)).toBe(true);
      // The session still works for statements that finish in time.
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await sql.end();
    }
  });

  it("gives up connecting after connectTimeoutMs when the server never answers", async () => {
    const silent = await startSilentServer();
    const sql = connectPostgres(`postgres://postgres@127.0.0.1:${silent.port}/postgres`, { max: 1, connectTimeoutMs: 300 });
    try {
      const started = Date.now();
      const err = await caught(sql`select 1`);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(err).toMatchObject({ code: "CONNECT_TIMEOUT" });
      expect(isDatabaseUnavailableError(err)).toBe(true);
      expect(await pingPostgres(sql, 500)).toBe(false);
    } finally {
      await sql.end({ timeout: 1 });
      await silent.close();
    }
  });

  it("answers a refused connection as unavailable, and a bad query as not", async () => {
    const port = await findFreePort();
    const down = connectPostgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1 });
    try {
      expect(isDatabaseUnavailableError(await caught(down`select 1`))).toBe(true);
    } finally {
      await down.end({ timeout: 1 });
    }
    const syntax = await caught(db.sql`selec 1`);
    expect(syntax).toMatchObject({ name: "PostgresError", code: "42601" });
    expect(isDatabaseUnavailableError(syntax)).toBe(false);
    expect(isDatabaseUnavailableError(new Error("ECONNREFUSED in the message only"))).toBe(false);
    expect(isDatabaseUnavailableError(new Error("wrapped", { cause: new DatabaseNotReadyError() }))).toBe(true);
  });
});

describe("translateDatabaseError", () => {
  it("answers an outage with 503 E_DATABASE_UNAVAILABLE and Retry-After, and leaves the rest alone", () => {
    const outage = translateDatabaseError(Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" }));
    expect(outage).toBeInstanceOf(HttpError);
    expect(outage).toMatchObject({ code: "E_DATABASE_UNAVAILABLE", status: 503, expose: true, retryAfterSeconds: 5 });
    const notFound = new HttpError("E_JOB_NOT_FOUND", "no job");
    expect(translateDatabaseError(notFound, { isReady: () => false })).toBe(notFound);
    const bug = new TypeError("x is undefined");
    expect(translateDatabaseError(bug, { isReady: () => true })).toBe(bug);
    // Before the migrations ran, a query meets missing tables: that is the outage too.
    expect(translateDatabaseError(bug, { isReady: () => false })).toMatchObject({ code: "E_DATABASE_UNAVAILABLE" });
    expect(databaseUnavailable().status).toBe(503);
  });
});

describe("readPostgresConfig", () => {
  it("reads the URL, pool size and both timeouts, with defaults", () => {
    const r = new EnvReader({ DATABASE_URL: "postgres://u@h/db", DATABASE_STATEMENT_TIMEOUT_MS: "1500" });
    expect(readPostgresConfig(r)).toEqual({ url: "postgres://u@h/db", max: 10, connectTimeoutMs: 5000, statementTimeoutMs: 1500 });
    expect(r.problems).toEqual([]);
    const bad = new EnvReader({ DATABASE_URL: "mysql://h/db", DATABASE_CONNECT_TIMEOUT_MS: "0" });
    readPostgresConfig(bad);
    expect(bad.problems).toEqual([expect.stringMatching(/^DATABASE_URL must use postgres:/), "DATABASE_CONNECT_TIMEOUT_MS must be >= 100, got 0"]);
  });
});
