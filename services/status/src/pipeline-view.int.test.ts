import { fileURLToPath } from "node:url";
import { createAuthenticator, runAuthMigrations } from "@veriflow/auth";
import { PIPELINE_PATH } from "@veriflow/events";
import { listen, type HttpServerHandle } from "@veriflow/http";
import type { PipelineConsumer } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, type TestDatabase } from "@veriflow/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { jobEvents } from "./job-events.fixture.js";
import { createStatusApp } from "./routes.js";
import { applyEvents } from "./store.js";

const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

let db: TestDatabase;
let server: HttpServerHandle;
let url: string;
/** What NATS would answer: consumers as readPipelineConsumers reports them, or no answer at all. */
let nats: { consumers: PipelineConsumer[]; down: boolean };

beforeAll(async () => {
  db = await createTestDatabase({ migrationsDir });
  await runAuthMigrations(db.sql);
  const log = createSilentLogger();
  const authenticator = createAuthenticator({ sql: db.sql, config: { bootstrapKeys: [], openWhenNoKeys: true, cacheTtlMs: 0, production: false }, log });
  const unavailable = () => Promise.reject(new Error("nats: timeout"));
  const app = createStatusApp({
    sql: db.sql,
    log,
    authenticator,
    findRequestedEvent: async () => null,
    isStreamAvailable: async () => true,
    pipeline: {
      consumers: async () => (nats.down ? unavailable() : nats.consumers),
      deadLetters: async () => (nats.down ? unavailable() : { total: 2, byConsumer: { "status-projection": 2 } }),
    },
  });
  server = await listen(app, 0, "127.0.0.1");
  url = `http://127.0.0.1:${server.port}${PIPELINE_PATH}`;
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});
beforeEach(async () => {
  nats = { consumers: [], down: false };
  await db.sql`truncate verification_jobs, verification_job_events`;
});

/** The answer's shape as the test reads it. */
type PipelineBody = {
  streamAvailable: boolean;
  consumers: unknown;
  deadLetters: unknown;
  throughput: { minutes: { completed: number; failed: number }[] };
  latency: { stages: unknown };
};

const consumer = (durable: string, pending: number, ackPending: number): PipelineConsumer => ({
  service: durable,
  durable,
  kind: "stage",
  priority: "interactive",
  info: { num_pending: pending, num_ack_pending: ackPending, num_redelivered: 1, ack_floor: { consumer_seq: 40, stream_seq: 90 } } as PipelineConsumer["info"],
});

describe(`GET ${PIPELINE_PATH}`, () => {
  it("answers each consumer's backlog, the tenant's completions per minute and each stage's latency", async () => {
    nats.consumers = [consumer("hashing", 3, 2), { service: "manifest", durable: "manifest", kind: "stage", priority: "interactive", info: null }];
    const t0 = new Date(Date.now() - 10 * 60_000);
    const done = [0, 1, 2].map(() => jobEvents({ t0 }));
    const failed = jobEvents({ t0 });
    const old = jobEvents({ t0: new Date(Date.now() - 3 * 3_600_000) });
    await applyEvents(db.sql, [...done.flatMap((j) => [j.requested, j.hashed, j.checked, j.completed]), failed.requested, failed.hashed, failed.checked, failed.failed(), old.requested, old.completed]);

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as PipelineBody;
    expect(body.streamAvailable).toBe(true);
    expect(body.consumers).toEqual([
      { service: "hashing", durable: "hashing", kind: "stage", priority: "interactive", exists: true, waiting: 3, inFlight: 2, backlog: 5, redelivered: 1, acked: 40 },
      { service: "manifest", durable: "manifest", kind: "stage", priority: "interactive", exists: false, waiting: 0, inFlight: 0, backlog: 0, redelivered: 0, acked: 0 },
    ]);
    expect(body.deadLetters).toEqual({ total: 2, byConsumer: { "status-projection": 2 } });
    // The fixture's jobs finish 4 s (completed) and 5 s (failed) after t0: one minute, the old job outside the hour.
    const minutes = body.throughput.minutes;
    expect(minutes.reduce((n, m) => n + m.completed, 0)).toBe(3);
    expect(minutes.reduce((n, m) => n + m.failed, 0)).toBe(1);
    // requested → hashed 2 s, hashed → checked 1 s, checked → completed 1 s (a failure is not a stage's latency).
    expect(body.latency.stages).toEqual([
      { stage: "hashing", p50Ms: 2000, p95Ms: 2000, samples: 4 },
      { stage: "manifest", p50Ms: 1000, p95Ms: 1000, samples: 4 },
      { stage: "chain-check", p50Ms: 1000, p95Ms: 1000, samples: 3 },
    ]);
  });

  it("still answers from PostgreSQL while NATS does not, saying so", async () => {
    nats.down = true;
    const body = (await (await fetch(url)).json()) as PipelineBody;
    expect(body).toMatchObject({ streamAvailable: false, consumers: null, deadLetters: null, throughput: { minutes: [] }, latency: { stages: [] } });
  });

  it("refuses a method it does not take", async () => {
    expect((await fetch(url, { method: "POST" })).status).toBe(405);
  });
});
