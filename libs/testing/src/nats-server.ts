import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { findFreePort, waitForPort } from "./free-port.js";

export interface NatsServerHandle {
  url: string;
  port: number;
  /** http://127.0.0.1:<monitorPort> when started with one, else null. */
  monitorUrl: string | null;
  storeDir: string;
  /** Stops the server; `keepStore` leaves the JetStream directory for a restart. */
  stop(opts?: { keepStore?: boolean }): Promise<void>;
  /**
   * Starts it again on the same port and store (to test reconnects): stopped with `signal`
   * (SIGTERM by default; SIGKILL for a crash) and left down for `downMs` first.
   */
  restart(opts?: { signal?: NodeJS.Signals; downMs?: number }): Promise<void>;
  /** `kill -9`: no shutdown, no flush of the store (to test crash recovery); restart() brings it back. */
  kill(): Promise<void>;
  /** The running server's pid (undefined while it is stopped). */
  readonly pid: number | undefined;
  /** The error lines it logged so far (the last 200), e.g. permission violations. */
  errors(): string[];
}

export interface StartNatsOptions {
  port?: number;
  storeDir?: string;
  /** Path of the nats-server binary; defaults to the one on PATH. */
  binary?: string;
  maxPayload?: number;
  /**
   * JetStream's file storage limit in bytes (`max_file_store`): a small one makes the store fill
   * up, to test what the system answers when it is full. Unlimited (the disk) by default.
   */
  maxFileStore?: number;
  /**
   * A nats-server config file to start with (deploy/nats/nats-server.conf: accounts, users and
   * their permissions). Host, port and store still come from the flags, which win.
   */
  configFile?: string;
  /** Added to the server's environment: the `$VAR`s the config file names (the users' passwords). */
  env?: Record<string, string>;
  /**
   * The HTTP monitoring port (`-m`: /varz, /jsz, /connz), on the same loopback address as the
   * clients' port; none by default.
   */
  monitorPort?: number;
  /** A node of a cluster (nats-cluster.ts): its name, its route port and its peers' route ports. */
  cluster?: { name: string; serverName: string; port: number; routes: readonly number[] };
}

export const NATS_INSTALL_HINT =
  "nats-server not found on PATH. Install it: `sudo apt-get install -y nats-server` (Debian/Ubuntu), " +
  "`brew install nats-server` (macOS), or download it from the NATS releases page.";

/** Starts a real nats-server with JetStream on a free port and a temp store. */
export async function startNatsServer(opts: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const port = opts.port ?? (await findFreePort());
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), "veriflow-nats-")));
  const binary = opts.binary ?? "nats-server";
  let child: ChildProcess | undefined;
  const errorLines: string[] = [];

  const launch = async () => {
    const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir];
    if (opts.maxPayload) args.push("--max_payload", String(opts.maxPayload));
    if (opts.monitorPort !== undefined) args.push("-m", String(opts.monitorPort));
    if (opts.cluster) args.push(...clusterArgs(opts.cluster));
    // JetStream's limits have no command-line flags: they go in a config file (the flags above still win).
    const config = opts.maxFileStore !== undefined ? await writeJetStreamLimits(storeDir, opts.maxFileStore, opts.configFile) : opts.configFile;
    if (config !== undefined) args.push("-c", config);
    const proc = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...opts.env } });
    let stderr = "";
    let partial = "";
    proc.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop()!;
      errorLines.push(...lines.filter((l) => l.includes("[ERR]")));
      errorLines.splice(0, errorLines.length - 200);
    });
    const failed = new Promise<never>((_, reject) => {
      proc.once("error", (err: NodeJS.ErrnoException) =>
        reject(err.code === "ENOENT" ? new Error(NATS_INSTALL_HINT) : err),
      );
      proc.once("exit", (code) => reject(new Error(`nats-server exited (${code}): ${stderr}`)));
    });
    failed.catch(() => {});
    await Promise.race([waitForPort(port), failed]);
    child = proc;
  };

  const halt = async (signal: NodeJS.Signals = "SIGTERM") => {
    const proc = child;
    child = undefined;
    // A process killed by a signal has a signalCode and no exitCode: it is gone all the same.
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill(signal);
      setTimeout(() => proc.kill("SIGKILL"), 5000).unref();
    });
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl: opts.monitorPort !== undefined ? `http://127.0.0.1:${opts.monitorPort}` : null,
    storeDir,
    async stop({ keepStore = false } = {}) {
      await halt();
      if (!keepStore && !opts.storeDir) await rm(storeDir, { recursive: true, force: true });
    },
    async restart({ signal, downMs = 0 } = {}) {
      await halt(signal);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    kill: () => halt("SIGKILL"),
    get pid() {
      return child?.pid;
    },
    errors: () => [...errorLines],
  };
}

/**
 * A config file holding JetStream's storage limit (and including `base`, if given), in the store
 * directory (nats-server keeps its data in jetstream/ there).
 */
async function writeJetStreamLimits(storeDir: string, maxFileStore: number, base?: string): Promise<string> {
  await mkdir(storeDir, { recursive: true });
  const file = join(storeDir, "limits.conf");
  // nats-server resolves an include against the including file's directory, even an absolute path.
  const include = base === undefined ? "" : `include ${JSON.stringify(relative(resolve(storeDir), resolve(base)))}\n`;
  await writeFile(file, `${include}jetstream {\n  max_file_store: ${Math.floor(maxFileStore)}\n}\n`);
  return file;
}

/** The command-line flags of a cluster node: routes on loopback, JetStream clustered by server name. */
function clusterArgs(c: NonNullable<StartNatsOptions["cluster"]>): string[] {
  const routes = c.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(",");
  return ["--server_name", c.serverName, "--cluster_name", c.name, "--cluster", `nats://127.0.0.1:${c.port}`, "--routes", routes];
}
