import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, startPrivatePostgres, type TestDatabase } from "@veriflow/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatabaseNotReadyError } from "./availability.js";
import { MigrationError, loadMigrations, runMigrations, startMigrations } from "./migrations.js";
import { connectPostgres } from "./postgres.js";

let db: TestDatabase;
let dir: string;

beforeEach(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), "veriflow-migrations-"));
});
afterEach(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

const write = (name: string, text: string) => writeFile(join(dir, name), text);

describe("runMigrations", () => {
  it("applies NNN_name.sql files in numeric order, once each", async () => {
    await write("002_second.sql", "insert into log values ('second');");
    await write("001_first.sql", "create table log (entry text); insert into log values ('first');");
    await write("010_tenth.sql", "insert into log values ('tenth');");
    await write("README.md", "not a migration");
    expect(await runMigrations(db.sql, dir)).toEqual(["001_first.sql", "002_second.sql", "010_tenth.sql"]);
    expect(await runMigrations(db.sql, dir)).toEqual([]);
    expect((await db.sql`select entry from log`).map((r) => r.entry)).toEqual(["first", "second", "tenth"]);
    await write("011_more.sql", "insert into log values ('more');");
    expect(await runMigrations(db.sql, dir)).toEqual(["011_more.sql"]);
    expect(await db.sql`select version, name from schema_migrations order by version`).toEqual([
      { version: 1, name: "001_first.sql" },
      { version: 2, name: "002_second.sql" },
      { version: 10, name: "010_tenth.sql" },
      { version: 11, name: "011_more.sql" },
    ]);
  });

  it("lets replicas start together: each migration still runs once", async () => {
    await write("001_counter.sql", "create table counter (n int); insert into counter values (1);");
    await write("002_bump.sql", "select pg_sleep(0.2); update counter set n = n + 1;");
    const pools = Array.from({ length: 4 }, () => connectPostgres(db.url, { max: 1 }));
    try {
      const applied = await Promise.all(pools.map((sql) => runMigrations(sql, dir)));
      expect(applied.flat().sort()).toEqual(["001_counter.sql", "002_bump.sql"]);
      expect(await db.sql`select n from counter`).toEqual([{ n: 2 }]);
    } finally {
      await Promise.all(pools.map((sql) => sql.end()));
    }
  });

  it("rolls back a failing batch and names the file", async () => {
    await write("001_ok.sql", "create table fine (id int);");
    await write("002_broken.sql", "create tabel oops (id int);");
    const err = await runMigrations(db.sql, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(/002_broken\.sql failed: syntax error/);
    expect(await db.sql`select to_regclass('fine') as t`).toEqual([{ t: null }]);
  });

  it("refuses a migration edited after it was applied", async () => {
    await write("001_a.sql", "create table a (id int);");
    await runMigrations(db.sql, dir);
    await write("001_a.sql", "create table a (id bigint);");
    await expect(runMigrations(db.sql, dir)).rejects.toThrow(/001_a\.sql was changed after it was applied/);
  });

  it("refuses two migrations with the same number", async () => {
    await write("001_a.sql", "select 1;");
    await write("001_b.sql", "select 2;");
    await expect(loadMigrations(dir)).rejects.toThrow(/two migrations numbered 1/);
  });
});

describe("startMigrations", () => {
  it("migrates at once when PostgreSQL answers, and refuses a broken migration as runMigrations does", async () => {
    await write("001_a.sql", "create table a (id int);");
    const migrated = await startMigrations(db.sql, dir, { log: createSilentLogger() });
    expect(migrated.isReady()).toBe(true);
    expect(() => migrated.assertReady()).not.toThrow();
    await write("002_broken.sql", "create tabel oops (id int);");
    await expect(startMigrations(db.sql, dir, { log: createSilentLogger() })).rejects.toThrow(/002_broken\.sql failed/);
  });

  it("starts while PostgreSQL is down and migrates once it is back", async () => {
    await write("001_a.sql", "create table a (id int); insert into a values (7);");
    const pg = await startPrivatePostgres({ start: false });
    const sql = connectPostgres(pg.url, { max: 2, connectTimeoutMs: 500 });
    try {
      const migrated = await startMigrations(sql, dir, { log: createSilentLogger(), retryBaseMs: 100, retryMaxMs: 300 });
      expect(migrated.isReady()).toBe(false);
      expect(() => migrated.assertReady()).toThrow(DatabaseNotReadyError);
      await pg.start();
      await migrated.ready;
      expect(migrated.isReady()).toBe(true);
      expect(await sql`select id from a`).toEqual([{ id: 7 }]);
      migrated.stop();
    } finally {
      await sql.end({ timeout: 1 });
      await pg.destroy();
    }
  });
});
