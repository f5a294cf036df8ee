import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { DEAD_LETTER_STREAM, POSITIONS_STREAM, STREAM_NAME, UPLOADS_BUCKET } from "@veriflow/events";
import { ensureStreams, openUploadsBucket, pipelineConsumerSpecs, readTopologyConfig } from "@veriflow/nats";
import { EnvReader } from "@veriflow/platform";
import { createTestDatabase, startNatsServer, type NatsServerHandle, type TestDatabase } from "@veriflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "./run.js";

// `veriflow setup` on a real nats-server and PostgreSQL: it makes the deployment's topology
// as configured, and `--check` names what differs without changing it.
let server: NatsServerHandle;
let db: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startNatsServer();
  db = await createTestDatabase();
  // Small bounds: JetStream reserves each stream's max_bytes in its store.
  env = { NATS_URL: server.url, DATABASE_URL: db.url, STREAM_MAX_BYTES: String(32 * 1024 ** 2), DEAD_LETTER_MAX_BYTES: String(8 * 1024 ** 2), UPLOADS_MAX_BYTES: String(32 * 1024 ** 2) };
});
afterAll(async () => {
  await db?.drop();
  await server?.stop();
});

async function setup(args: string[], extra: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await run(["setup", ...args], {
    env: { ...env, ...extra },
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t), isTTY: false },
  });
  return { code, stdout, stderr };
}

describe("veriflow setup", () => {
  it("--check on an empty deployment names everything missing, exits 1 and makes nothing", async () => {
    const r = await setup(["--check", "--json"]);
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; differences: string[] };
    expect(out.ok).toBe(false);
    expect(out.differences).toEqual(
      expect.arrayContaining([
        `stream ${STREAM_NAME} does not exist`,
        `stream OBJ_${UPLOADS_BUCKET} does not exist`,
        ...pipelineConsumerSpecs().map((c) => `consumer ${c.durable} does not exist`),
        expect.stringMatching(/^schema status: \d+ migration\(s\) not applied/),
        expect.stringMatching(/^schema webhooks: /),
        expect.stringMatching(/^schema auth: /),
        expect.stringMatching(/^schema registry-watch: \d+ migration\(s\) not applied/),
      ]),
    );
    const nc = await connect({ servers: server.url });
    expect(await (await jetstreamManager(nc)).streams.names().next()).toEqual([]);
    await nc.close();
  });

  it("makes the streams, the uploads bucket, every consumer and every schema; a second run changes nothing", async () => {
    const first = await setup([]);
    expect(first.code, first.stderr).toBe(0);
    for (const line of [`stream ${STREAM_NAME}: as configured`, `stream ${DEAD_LETTER_STREAM}: as configured`, `stream ${POSITIONS_STREAM}: as configured`, "consumer hashing: created", "consumer status-projection: created"]) {
      expect(first.stdout).toContain(line);
    }
    expect(first.stdout).toMatch(/schema status: applied 001_/);
    expect(first.stdout).toMatch(/schema registry-watch: applied 001_/);
    const again = await setup([]);
    expect(again.stdout).toContain("consumer hashing: as configured");
    expect(again.stdout).toContain("schema status: current");
    expect(again.stdout).toContain("schema registry-watch: current");
    const check = await setup(["--check"]);
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toContain("setup: the topology is as configured");
    // What a service started with NATS_TOPOLOGY=check and the same environment finds: all there.
    const topology = readTopologyConfig(new EnvReader({ ...env, NATS_TOPOLOGY: "check" }));
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, topology);
    await openUploadsBucket(jetstream(nc), topology);
    await nc.close();
  });

  it("--check names a bound configured differently from the deployment, and leaves it", async () => {
    const r = await setup(["--check"], { STREAM_MAX_BYTES: String(16 * 1024 ** 2) });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`differs: stream ${STREAM_NAME}: max_bytes is ${32 * 1024 ** 2}, configured ${16 * 1024 ** 2}`);
    // setup itself brings it to the configuration.
    expect((await setup([], { STREAM_MAX_BYTES: String(16 * 1024 ** 2) })).code).toBe(0);
    expect((await setup(["--check"], { STREAM_MAX_BYTES: String(16 * 1024 ** 2) })).code).toBe(0);
  });

  it("answers a bad variable as a usage error (exit 2), before touching anything", async () => {
    const r = await setup([], { STREAM_MAX_BYTES: "lots" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("STREAM_MAX_BYTES must be an integer");
  });
});
