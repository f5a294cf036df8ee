import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@veriflow/platform";
import { DatabaseNotReadyError, isDatabaseUnavailableError } from "./availability.js";
import type { Sql } from "./postgres.js";

export interface Migration {
  /** The numeric prefix: `001_jobs.sql` → 1. */
  version: number;
  /** The file name, recorded as applied. */
  name: string;
  sql: string;
  /** sha256 of the file, to notice a migration edited after it ran. */
  checksum: string;
}

export interface RunMigrationsOptions {
  log?: Logger;
  /** Where applied migrations are recorded. */
  table?: string;
}

export class MigrationError extends Error {
  override name = "MigrationError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const FILE = /^(\d+)_[\w.-]+\.sql$/;

/** Reads `NNN_name.sql` files of a directory, ordered by number; other files are ignored. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => FILE.test(f));
  const migrations = await Promise.all(
    files.map(async (name) => {
      const text = await readFile(join(dir, name), "utf8");
      return {
        version: Number(FILE.exec(name)![1]),
        name,
        sql: text,
        checksum: createHash("sha256").update(text).digest("hex"),
      };
    }),
  );
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new MigrationError(`two migrations numbered ${migrations[i]!.version} in ${dir}`);
    }
  }
  return migrations;
}

/**
 * Applies pending migrations in order, each once, in one transaction under an advisory
 * lock: replicas starting together wait for the first, then find nothing to do.
 * A migration edited after it was applied is an error (its checksum no longer matches).
 * Statements that cannot run inside a transaction (CREATE INDEX CONCURRENTLY) are not supported.
 * Returns the names of the migrations it applied.
 */
export async function runMigrations(sql: Sql, dir: string, opts: RunMigrationsOptions = {}): Promise<string[]> {
  const table = opts.table ?? "schema_migrations";
  const migrations = await loadMigrations(dir);
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    // A migration may take longer than the pool's statement_timeout (an index on a big table),
    // and so may waiting for another replica's: neither is a stalled server.
    await tx`set local statement_timeout = 0`;
    await tx`select pg_advisory_xact_lock(hashtext(${`veriflow.migrations.${table}`}))`;
    await tx`
      create table if not exists ${tx(table)} (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
    const rows = await tx<{ version: number; name: string; checksum: string }[]>`
      select version, name, checksum from ${tx(table)}`;
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new MigrationError(`migration ${m.name} was changed after it was applied (as ${prior.name})`);
        }
        continue;
      }
      try {
        await tx.unsafe(m.sql);
      } catch (cause) {
        throw new MigrationError(`migration ${m.name} failed: ${(cause as Error).message}`, { cause });
      }
      await tx`insert into ${tx(table)} (version, name, checksum) values (${m.version}, ${m.name}, ${m.checksum})`;
      applied.push(m.name);
    }
  });
  if (applied.length > 0) opts.log?.info({ applied }, "migrations applied");
  return applied;
}

/** A service's tables: the directory of its migrations and the table that records them. */
export interface Schema {
  /** Who owns it (a service, or a library shared by several: auth). */
  owner: string;
  dir: string;
  table: string;
}

/**
 * The migrations of `schema` not applied yet (none: the schema is current), without applying
 * any or taking a lock; a migration changed after it was applied is an error, as when running.
 */
export async function pendingMigrations(sql: Sql, schema: Schema): Promise<string[]> {
  const migrations = await loadMigrations(schema.dir);
  const [exists] = await sql<{ found: boolean }[]>`select to_regclass(${schema.table}) is not null as found`;
  if (!exists?.found) return migrations.map((m) => m.name);
  const rows = await sql<{ version: number; name: string; checksum: string }[]>`select version, name, checksum from ${sql(schema.table)}`;
  const done = new Map(rows.map((r) => [r.version, r]));
  for (const m of migrations) {
    const prior = done.get(m.version);
    if (prior && prior.checksum !== m.checksum) throw new MigrationError(`migration ${m.name} was changed after it was applied (as ${prior.name})`);
  }
  return migrations.filter((m) => !done.has(m.version)).map((m) => m.name);
}

/** A service's database as its edges and consumers see it: migrated yet, or not. */
export interface MigratedDatabase {
  /** Resolves once the migrations are applied (it never rejects). */
  ready: Promise<void>;
  isReady(): boolean;
  /** Throws DatabaseNotReadyError (a database-unavailable error) until the migrations are applied. */
  assertReady(): void;
  /** Stops retrying (shutdown). */
  stop(): void;
}

export interface StartMigrationsOptions extends RunMigrationsOptions {
  log: Logger;
  /** Delay before the first retry, doubled after each failure up to `retryMaxMs`. Defaults 500 / 15 000. */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

/**
 * Runs the migrations now if PostgreSQL answers, and otherwise keeps trying in the
 * background, so a service starts (and answers 503 meanwhile) while the database is down
 * and migrates it when it returns. A migration that fails while the database answers
 * (a syntax error, an edited file) fails the start, as before; in the background it is
 * logged and tried again at the longest delay.
 */
export async function startMigrations(sql: Sql, dir: string, opts: StartMigrationsOptions): Promise<MigratedDatabase> {
  const base = opts.retryBaseMs ?? 500;
  const max = opts.retryMaxMs ?? 15_000;
  let done = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });

  const first = await runMigrations(sql, dir, opts).then(
    () => null,
    (err: unknown) => err,
  );
  if (first !== null && !isDatabaseUnavailableError(first)) throw first instanceof Error ? first : new Error("migrations failed", { cause: first });
  if (first !== null) opts.log.warn({ err: first }, "postgres unavailable: migrations wait for it, the service starts meanwhile");

  const ready =
    first === null
      ? Promise.resolve()
      : (async () => {
          for (let delay = base; !stopped; delay = Math.min(max, delay * 2)) {
            await sleep(delay);
            if (stopped) return;
            try {
              await runMigrations(sql, dir, opts);
              opts.log.info("postgres reachable: migrations done");
              return;
            } catch (err) {
              if (isDatabaseUnavailableError(err)) opts.log.debug({ err }, "postgres still unavailable");
              else {
                opts.log.error({ err }, "migrations failed; trying again");
                delay = max;
              }
            }
          }
        })();
  void ready.then(() => {
    done = !stopped;
  });
  if (first === null) done = true;

  return {
    ready,
    isReady: () => done,
    assertReady() {
      if (!done) throw new DatabaseNotReadyError();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
    },
  };
}
