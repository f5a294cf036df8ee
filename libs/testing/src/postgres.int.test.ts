import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, startEmbeddedPostgres } from "./postgres.js";

let migrationsDir: string;

beforeAll(async () => {
  migrationsDir = await mkdtemp(join(tmpdir(), "veriflow-migrations-"));
  await writeFile(join(migrationsDir, "001_widgets.sql"), "create table widgets (widget_id serial primary key, display_name text not null);");
  await writeFile(join(migrationsDir, "002_gadgets.sql"), "create table gadgets (id int primary key);");
});
afterAll(async () => {
  await rm(migrationsDir, { recursive: true, force: true });
});

describe("createTestDatabase", () => {
  it("gives each caller its own migrated database, with camelCase columns", async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => createTestDatabase({ migrationsDir })));
    try {
      expect(new Set([a!.url, b!.url, c!.url]).size).toBe(3);
      await a!.sql`insert into widgets ${a!.sql({ displayName: "only in a" })}`;
      expect(await a!.sql`select widget_id, display_name from widgets`).toEqual([{ widgetId: 1, displayName: "only in a" }]);
      expect(await b!.sql`select * from widgets`).toEqual([]);
      expect((await c!.sql`select name from schema_migrations order by version`).map((r) => r.name)).toEqual([
        "001_widgets.sql",
        "002_gadgets.sql",
      ]);
    } finally {
      await Promise.all([a, b, c].map((d) => d!.drop()));
    }
  });

  it("drops the database", async () => {
    const db = await createTestDatabase();
    const name = new URL(db.url).pathname.slice(1);
    await db.drop();
    await db.drop(); // twice is harmless
    const admin = postgres(adminFrom(db.url), { max: 1, onnotice: () => {} });
    try {
      expect(await admin`select 1 from pg_database where datname = ${name}`).toHaveLength(0);
    } finally {
      await admin.end();
    }
  });
});

describe("startEmbeddedPostgres", () => {
  it("initialises an empty directory once and keeps its data across restarts", async () => {
    const parent = await mkdtemp(join(tmpdir(), "veriflow-embedded-"));
    await chmod(parent, 0o755); // run as root, the server runs as the postgres user
    const dataDir = join(parent, "postgres");
    try {
      let pg = await startEmbeddedPostgres({ dataDir });
      let sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      await sql`create table kept (n int)`;
      await sql`insert into kept values (42)`;
      await sql.end();
      await pg.stop();

      pg = await startEmbeddedPostgres({ dataDir });
      sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      expect(await sql`select n from kept`).toEqual([{ n: 42 }]);
      await sql.end();

      // It also serves as the test server when named by TEST_DATABASE_URL.
      const saved = process.env.TEST_DATABASE_URL;
      process.env.TEST_DATABASE_URL = pg.url;
      try {
        const db = await createTestDatabase({ migrationsDir });
        expect(new URL(db.url).port).toBe(String(pg.port));
        expect(await db.sql`select count(*)::int as n from gadgets`).toEqual([{ n: 0 }]);
        await db.drop();
      } finally {
        if (saved === undefined) delete process.env.TEST_DATABASE_URL;
        else process.env.TEST_DATABASE_URL = saved;
      }
      await pg.stop();
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("refuses a directory that holds something else", async () => {
    const dir = await mkdtemp(join(tmpdir(), "veriflow-embedded-"));
    try {
      await writeFile(join(dir, "notes.txt"), "not a cluster");
      await expect(startEmbeddedPostgres({ dataDir: dir })).rejects.toThrow(/neither empty nor a PostgreSQL data directory/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function adminFrom(url: string): string {
  const u = new URL(url);
  u.pathname = "/postgres";
  return u.toString();
}
