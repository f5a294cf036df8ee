/**
 * Flat cost as data grows: job GET, list pages and stats with a million jobs in PostgreSQL.
 * Prints figures against the target (p99 ≤ 20 ms each); it is not a test.
 *
 *   npx tsx bench/data-scale.ts [--jobs N] [--samples S]
 *
 * Starts what the status service needs and nothing else: a throwaway embedded PostgreSQL and a
 * nats-server (free ports, a temp directory), and the status service as a process from its
 * build output (`npm run build` first), listening on loopback. `npm run bench` runs the same
 * step on its whole stack with `--scale-jobs N`.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { JOBS_PATH } from "@veriflow/events";
import { findFreePort, startEmbeddedPostgres, startNatsServer } from "@veriflow/testing";
import { spawnService, stopService, type ServiceProcess } from "../deploy/local/src/service-processes.js";
import { runDataScale } from "./support/data-scale.js";
import { out } from "./support/output.js";

const { values: args } = parseArgs({ options: { jobs: { type: "string", default: "1000000" }, samples: { type: "string", default: "500" } } });
const JOBS = Number(args.jobs);
const SAMPLES = Number(args.samples);
if (!Number.isSafeInteger(JOBS) || JOBS < 1000) throw new Error(`--jobs must be an integer of at least 1000, got ${args.jobs}`);
if (!Number.isSafeInteger(SAMPLES) || SAMPLES < 10) throw new Error(`--samples must be an integer of at least 10, got ${args.samples}`);

const cleanups: (() => Promise<unknown>)[] = [];
let stopping: Promise<void> | undefined;
/** Once: a signal during a failing run's own stop waits for that stop instead of exiting under it. */
const stopAll = () =>
  (stopping ??= (async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  })());

async function main() {
  out(`veriflow data-scale bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cpus`);
  const dir = await mkdtemp(join(tmpdir(), "veriflow-data-scale-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // Run as root, embedded PostgreSQL runs as the postgres user: it must reach its directory.
  await chmod(dir, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: join(dir, "postgres"), ephemeral: true });
  cleanups.push(() => pg.stop());
  const nats = await startNatsServer({ storeDir: join(dir, "nats") });
  cleanups.push(() => nats.stop());
  const status = await startStatus(pg.url, nats.url);
  cleanups.push(() => stopService(status.process));
  await runDataScale({ databaseUrl: pg.url, statusUrl: status.url, jobs: JOBS, samples: SAMPLES });
  if (status.process.child.exitCode !== null) throw new Error(`the status service exited (${status.process.child.exitCode}) during the run`);
}

/** The status service from its dist, as a deployment runs it, once it answers /stats (migrated). */
async function startStatus(databaseUrl: string, natsUrl: string): Promise<{ url: string; process: ServiceProcess }> {
  const port = await findFreePort();
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl,
    STATUS_HOST: "127.0.0.1",
    STATUS_PORT: String(port),
    STATUS_GRPC_PORT: String(await findFreePort()),
    OPS_HOST: "127.0.0.1",
    OPS_PORT: String(await findFreePort()),
    LOG_LEVEL: "warn",
  };
  const proc = spawnService("status", env, (line) => out(`  ${line}`));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${url}${JOBS_PATH}/stats`).then((r) => r.ok, () => false))) {
    if (proc.child.exitCode !== null) throw new Error(`the status service exited with code ${proc.child.exitCode} during start-up`);
    if (Date.now() > deadline) throw new Error("the status service did not answer within 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, process: proc };
}

process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));

main().then(
  async () => {
    await stopAll();
    process.exit(0);
  },
  async (err: unknown) => {
    out(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    await stopAll();
    process.exit(1);
  },
);
