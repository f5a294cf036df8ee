import { execFile, spawn } from "node:child_process";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findFreePort } from "./free-port.js";

/**
 * A PostgreSQL cluster of a test's own, on 127.0.0.1 and a free port, that the test may stop
 * and start again (`stop("immediate")` is a crash: no checkpoint, connections cut), to test
 * what services do while the database is down. Never the shared server on 5432.
 */
export interface PrivatePostgres {
  /** Admin URL (user postgres, database postgres, trust auth on loopback). */
  url: string;
  port: number;
  start(): Promise<void>;
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Stops it and deletes its directory. */
  destroy(): Promise<void>;
}

export interface PrivatePostgresOptions {
  /** Directory of initdb and pg_ctl; default POSTGRES_BIN_DIR, else the newest /usr/lib/postgresql/<v>/bin. */
  binDir?: string;
  /** Start it at once (default true); false leaves it initialised but down. */
  start?: boolean;
}

function findBinDir(): string {
  const fromEnv = process.env.POSTGRES_BIN_DIR?.trim();
  if (fromEnv) return fromEnv;
  for (const v of [17, 16, 15, 14, 13]) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(dir, "pg_ctl"))) return dir;
  }
  throw new Error("PostgreSQL server binaries not found: install postgresql or set POSTGRES_BIN_DIR to the directory of pg_ctl");
}

/** The uid and gid to run the server as: the postgres user when we are root (the server refuses root). */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string) => Number((await promisify(execFile)("id", [flag, "postgres"])).stdout.trim());
  return { uid: await id("-u"), gid: await id("-g") };
}

export async function startPrivatePostgres(opts: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = opts.binDir ?? findBinDir();
  const user = await serverUser();
  const root = await mkdtemp(join(tmpdir(), "veriflow-private-pg-"));
  if (user) await chown(root, user.uid, user.gid);
  const dataDir = join(root, "data");
  const port = await findFreePort();

  const run = (tool: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(join(bin, tool), args, { stdio: ["ignore", "ignore", "pipe"], ...(user ?? {}) });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
      child.once("error", reject);
      child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${tool} ${args.join(" ")} exited ${code}: ${stderr}`))));
    });

  await run("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
  let running = false;
  const handle: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      // fsync off is safe against a killed server (the OS keeps what was written); synchronous
      // commit stays on, or a commit acknowledged before `stop -m immediate` could be lost.
      const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c full_page_writes=off`;
      await run("pg_ctl", ["-D", dataDir, "-l", join(root, "server.log"), "-o", serverOptions, "-w", "-t", "60", "start"]);
      running = true;
    },
    async stop(mode = "fast") {
      if (!running) return;
      running = false;
      await run("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"]);
    },
    async destroy() {
      await handle.stop("immediate").catch(() => {});
      await rm(root, { recursive: true, force: true });
    },
  };
  if (opts.start !== false) {
    try {
      await handle.start();
    } catch (err) {
      await rm(root, { recursive: true, force: true });
      throw err;
    }
  }
  return handle;
}
