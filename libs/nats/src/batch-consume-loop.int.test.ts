import { DEAD_LETTER_STREAM, STREAM_NAME, deadLetterSubject, encodeEvent, observerConsumer, subjectFor, type AnyEnvelope, type ConsumerSpec } from "@veriflow/events";
import { connectPostgres, isDatabaseUnavailableError, type Sql } from "@veriflow/pg";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, findFreePort, startNatsServer, type NatsServerHandle, type TestDatabase } from "@veriflow/testing";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runBatchConsumeLoop, type BatchDelivery } from "./batch-consume-loop.js";
import type { RunningLoop } from "./consume-loop.js";
import { connectNats, type NatsClients } from "./nats.js";
import { requestFor } from "./pipeline-events.fixture.js";
import { publishEvents } from "./publish-events.js";
import { ensureConsumer, ensureStreams } from "./topology.js";
import { testTopology } from "./topology.fixture.js";

/**
 * The batch consumer on a real nats-server and a real PostgreSQL: a batch is one INSERT of
 * every event; a CHECK constraint refuses the "poison" ones, as PostgreSQL refuses data it
 * cannot store. One file, one database; a nats-server (and durable) per test.
 */

const topology = testTopology({ maxAckPending: 1000 });
const log = createSilentLogger();
const MAX_ATTEMPTS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
let server: NatsServerHandle;
let nats: NatsClients;
let consumer: ConsumerSpec;
const loops: RunningLoop[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql`create table projected (event_id text primary key, job_id text not null check (job_id not like 'poison%'))`;
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "batch-loop-test", log });
  consumer = observerConsumer("status");
  await ensureStreams(nats.jsm, topology);
  await ensureConsumer(nats.jsm, consumer, topology);
  await db.sql`truncate projected`;
});
afterEach(async () => {
  for (const loop of loops.splice(0)) await loop.stop();
  await nats.close();
  await server.stop();
});

/** One statement for the whole batch, as the projection writes it. */
const insertAll = (sql: () => Sql, calls: number[]) => async (events: AnyEnvelope[]) => {
  calls.push(events.length);
  const rows = events.map((e) => ({ event_id: e.id, job_id: e.correlationId }));
  await sql()`
    insert into projected (event_id, job_id)
    select r.event_id, r.job_id from jsonb_to_recordset(${sql().json(rows)}) as r(event_id text, job_id text)
    on conflict (event_id) do nothing`;
};

async function start(handleBatch: (events: AnyEnvelope[], delivery: BatchDelivery) => Promise<void>, opts: { graceMs?: number; lingerMs?: number } = {}) {
  const loop = await runBatchConsumeLoop({
    nats,
    topology,
    consumer,
    handleBatch,
    isUnavailable: isDatabaseUnavailableError,
    maxAttempts: MAX_ATTEMPTS,
    log,
    maxBatch: 50,
    backoff: { baseMs: 50, maxMs: 200 },
    shutdownGraceMs: opts.graceMs,
    lingerMs: opts.lingerMs,
    pullExpiresMs: 1000,
    checkIntervalMs: 300,
  });
  loops.push(loop);
  return loop;
}

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const rowCount = async () => (await db.sql<{ n: number }[]>`select count(*)::integer as n from projected`)[0]!.n;
const settled = async () => {
  const info = await nats.jsm.consumers.info(STREAM_NAME, consumer.durable);
  return info.num_pending === 0 && info.num_ack_pending === 0;
};
const deadLetters = async () => {
  const subject = deadLetterSubject(consumer.durable);
  return (await nats.jsm.streams.info(DEAD_LETTER_STREAM, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
};

describe("runBatchConsumeLoop: one bad event never holds the others back", () => {
  it("applies every other event of a batch at once, and dead-letters the one the database refuses, with its reason", async () => {
    const calls: number[] = [];
    const jobs = Array.from({ length: 40 }, (_, i) => (i === 17 ? "poison-1" : `job-${i}`));
    // Published before the loop starts: they arrive as one batch.
    await publishEvents(nats.js, jobs.map(requestFor));
    await start(insertAll(() => db.sql, calls));

    await eventually(async () => (await rowCount()) === 39, "the 39 good events");
    await eventually(settled, "every message settled, the poison one terminated");
    expect(await rowCount()).toBe(39);
    expect(await deadLetters()).toBe(1);
    const dead = await nats.jsm.streams.getMessage(DEAD_LETTER_STREAM, { last_by_subj: deadLetterSubject(consumer.durable) });
    expect(dead!.header?.get("veriflow-dlq-reason")).toMatch(/check constraint/);
    expect(dead!.header?.get("veriflow-dlq-attempts")).toBe(String(MAX_ATTEMPTS));
    expect(dead!.json<AnyEnvelope>().correlationId).toBe("poison-1");
    // Bisection, not one transaction per event: a handful of statements per delivery.
    expect(calls.length).toBeLessThan(30);
  });

  it("dead-letters an event published where it does not belong, at once, and never hands it over (the projection would record a job no stage sees)", async () => {
    const calls: number[] = [];
    await start(insertAll(() => db.sql, calls));
    const misplaced = requestFor("misplaced");
    await nats.js.publish(subjectFor("content.hashed", "misplaced"), encodeEvent(misplaced));
    await publishEvents(nats.js, [requestFor("in-place")]);

    await eventually(async () => (await rowCount()) === 1, "the event on its own subject");
    await eventually(settled, "every message settled");
    expect(await deadLetters()).toBe(1);
    const dead = await nats.jsm.streams.getMessage(DEAD_LETTER_STREAM, { last_by_subj: deadLetterSubject(consumer.durable) });
    expect(dead!.header?.get("veriflow-dlq-reason")).toMatch(/belongs on "veriflow\.verification\.requested\.misplaced"/);
    expect(dead!.header?.get("veriflow-dlq-attempts")).toBe("1");
    expect(calls.flat()).toEqual([1]);
  });

  it("a database that cannot be reached only delays events: retried whole, never dead-lettered", async () => {
    const calls: number[] = [];
    const unreachable = connectPostgres(`postgres://postgres@127.0.0.1:${await findFreePort()}/nowhere`, { max: 1, connectTimeoutMs: 2000 });
    let sql: Sql = unreachable;
    await start(insertAll(() => sql, calls));
    await publishEvents(nats.js, ["down-1", "down-2", "down-3"].map(requestFor));

    // More deliveries than maxAttempts, all refused for want of a server.
    await eventually(async () => (await nats.jsm.consumers.info(STREAM_NAME, consumer.durable)).num_redelivered > 0 && calls.length > MAX_ATTEMPTS + 1, "several failed deliveries");
    sql = db.sql;
    await eventually(async () => (await rowCount()) === 3, "the events applied once the database answers");
    await eventually(settled, "every message acked");
    expect(await deadLetters()).toBe(0);
    await unreachable.end({ timeout: 1 });
  });

  it("tells the handler which events were delivered before (a later event may have been applied first)", async () => {
    const seen: { job: string; redelivered: boolean }[] = [];
    let failOnce = true;
    await start(async (events, delivery) => {
      for (const e of events) seen.push({ job: e.correlationId, redelivered: delivery.redelivered(e) });
      if (failOnce && events.some((e) => e.correlationId === "late")) {
        failOnce = false;
        throw new Error("this batch fails once");
      }
    });
    await publishEvents(nats.js, ["late"].map(requestFor));
    await eventually(async () => seen.filter((s) => s.job === "late").length === 2, "the event delivered again");
    await publishEvents(nats.js, ["next"].map(requestFor));
    await eventually(async () => seen.some((s) => s.job === "next"), "the next event");
    expect(seen.filter((s) => s.job === "late").map((s) => s.redelivered)).toEqual([false, true]);
    expect(seen.find((s) => s.job === "next")!.redelivered).toBe(false);
  });

  it("on stop, naks at once what it has not started, and finishes the batch in hand", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls: number[] = [];
    const write = insertAll(() => db.sql, calls);
    const loop = await start(async (events) => {
      if (events.some((e) => e.correlationId === "first")) await gate;
      await write(events);
    });
    await publishEvents(nats.js, [requestFor("first")]);
    await eventually(async () => calls.length === 0 && (await nats.jsm.consumers.info(STREAM_NAME, consumer.durable)).num_ack_pending === 1, "the first batch in hand");
    await publishEvents(nats.js, ["later-1", "later-2"].map(requestFor));
    await eventually(async () => (await nats.jsm.consumers.info(STREAM_NAME, consumer.durable)).num_ack_pending === 3, "the later events received");

    const stopping = loop.stop();
    await sleep(100);
    release();
    await stopping;
    expect((await db.sql`select job_id from projected`).map((r) => r.jobId)).toEqual(["first"]);

    const started = Date.now();
    await start(write);
    await eventually(async () => (await rowCount()) === 3, "the released events, at once, by another replica", 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("runBatchConsumeLoop: lingering", () => {
  it("lets events trickling into an idle loop share one batch, and writes a lone event once the linger is over", async () => {
    const calls: number[] = [];
    await start(insertAll(() => db.sql, calls), { lingerMs: 300 });
    await sleep(300); // the loop's first pull is open
    // Five events 20 ms apart: without a linger each would be its own transaction.
    for (let i = 0; i < 5; i++) {
      await publishEvents(nats.js, [requestFor(`trickle-${i}`)]);
      await sleep(20);
    }
    await eventually(async () => (await rowCount()) === 5, "the five events");
    expect(calls).toEqual([5]);

    const lone = Date.now();
    await publishEvents(nats.js, [requestFor("lone")]);
    await eventually(async () => (await rowCount()) === 6, "the lone event");
    expect(calls).toEqual([5, 1]);
    expect(Date.now() - lone).toBeGreaterThanOrEqual(250);
    await eventually(settled, "every message acked");
  });
});
