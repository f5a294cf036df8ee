import { authSchema } from "@veriflow/auth";
import { connectNats, readTopologyConfig, setupTopology, topologyDifferences } from "@veriflow/nats";
import { connectPostgres, isDatabaseUnavailableError, pendingMigrations, runMigrations, type Schema } from "@veriflow/pg";
import { ConfigError, EnvReader, createSilentLogger, readNatsConnectionConfig } from "@veriflow/platform";
import { schema as registryWatchSchema } from "@veriflow/registry-watch/schema";
import { schema as statusSchema } from "@veriflow/status/schema";
import { schema as webhooksSchema } from "@veriflow/webhooks/schema";
import type { Command } from "../args.js";
import { UnreachableError, UsageError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import { printJson, type Io } from "../io.js";

type SetupCommand = Extract<Command, { kind: "setup" }>;

/** Every schema in the deployment's database, in the order they are applied. */
const SCHEMAS: readonly Schema[] = [authSchema, statusSchema, webhooksSchema, registryWatchSchema];

/**
 * `veriflow setup [--check]`: the one owner of the deployment's topology. With the services'
 * own environment (NATS_URL and its credentials, the STREAM_* / UPLOADS_* / CONSUMER_* bounds,
 * DATABASE_URL), it makes the streams, the uploads bucket and every pipeline consumer as
 * configured and applies every schema's pending migrations; services started with
 * NATS_TOPOLOGY=check then only check. `--check` changes nothing and exits 1 when something
 * differs (a deployment's pre-flight, or a Kubernetes Job's second container).
 */
export async function runSetup(cmd: SetupCommand, io: Io): Promise<number> {
  const r = new EnvReader(io.env);
  const natsConfig = readNatsConnectionConfig(r);
  const topology = readTopologyConfig(r);
  const databaseUrl = r.string("DATABASE_URL");
  try {
    r.done();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  const nats = await connectNats({ ...natsConfig, name: "veriflow-setup", log: createSilentLogger() }).catch((err: unknown) => {
    throw new UnreachableError(`NATS at NATS_URL did not answer: ${(err as Error).message}`, { cause: err });
  });
  const lines: string[] = [];
  const differences: string[] = [];
  try {
    if (cmd.check) differences.push(...(await topologyDifferences(nats.jsm, topology)));
    else lines.push(...(await setupTopology(nats, topology)));
  } finally {
    await nats.close();
  }
  if (databaseUrl !== undefined) {
    const database = await setupDatabase(databaseUrl, cmd.check);
    lines.push(...database.lines);
    differences.push(...database.differences);
  } else {
    lines.push("database: DATABASE_URL not set, no schema touched");
  }
  if (cmd.json) printJson(io, { ok: differences.length === 0, done: lines, differences });
  else io.stdout.write([...lines, ...differences.map((d) => `differs: ${d}`), differences.length === 0 ? "setup: the topology is as configured" : "setup: run `veriflow setup` without --check to make it so"].join("\n") + "\n");
  return differences.length === 0 ? EXIT.OK : EXIT.FAIL;
}

async function setupDatabase(url: string, check: boolean): Promise<{ lines: string[]; differences: string[] }> {
  const sql = connectPostgres(url, { max: 1, connectTimeoutMs: 10_000 });
  const lines: string[] = [];
  const differences: string[] = [];
  try {
    for (const schema of SCHEMAS) {
      if (check) {
        const pending = await pendingMigrations(sql, schema);
        if (pending.length > 0) differences.push(`schema ${schema.owner}: ${pending.length} migration(s) not applied (${pending.join(", ")})`);
      } else {
        const applied = await runMigrations(sql, schema.dir, { table: schema.table });
        lines.push(`schema ${schema.owner}: ${applied.length === 0 ? "current" : `applied ${applied.join(", ")}`}`);
      }
    }
  } catch (err) {
    if (isDatabaseUnavailableError(err)) throw new UnreachableError(`the database at DATABASE_URL is not reachable: ${(err as Error).message}`, { cause: err });
    throw err;
  } finally {
    await sql.end({ timeout: 5 });
  }
  return { lines, differences };
}
