import { DeliverPolicy } from "@nats-io/jetstream";
import { errors as natsErrors } from "@nats-io/transport-node";
import { STREAM_NAME, stageConsumer, subjectFor, terminalEventId, type AnyEnvelope, type Envelope, type EventType } from "@veriflow/events";
import { TransientError } from "@veriflow/errors";
import { failedEventFor, type HandlerContext } from "@veriflow/pipeline";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { afterEach, describe, expect, it } from "vitest";
import { runConsumeLoop, type RunningLoop } from "./consume-loop.js";
import { connectNats, type NatsClients } from "./nats.js";
import { checkedFor, completedFor, hashedFor, requestFor } from "./pipeline-events.fixture.js";
import { publishEvents } from "./publish-events.js";
import { ensureConsumer, ensureStreams } from "./topology.js";
import { testTopology } from "./topology.fixture.js";

/**
 * Faults the consume loop must survive, caused for real on a nats-server of its own per
 * test: a restart on the same store, a consumer or stream deleted while work is in hand,
 * a publish that is stored but reported as failed on the last attempt, a shutdown.
 */

const topology = testTopology();
const log = createSilentLogger();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve(probe()).catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

type Stage = "hashing" | "chain-check";
type Handle = (event: Envelope, ctx: HandlerContext) => Promise<AnyEnvelope[]>;

interface Harness {
  server: NatsServerHandle;
  nats: NatsClients;
  durable: string;
  calls: Array<{ jobId: string; attempt: number }>;
  start(): Promise<RunningLoop>;
  countOn(type: EventType, jobId: string): Promise<number>;
  publish(...events: AnyEnvelope[]): Promise<void>;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function harness(
  stage: Stage,
  handle: Handle,
  opts: { concurrency?: number; maxAttempts?: number; graceMs?: number; pullExpiresMs?: number } = {},
): Promise<Harness> {
  const server = await startNatsServer();
  cleanups.push(() => server.stop());
  const nats = await connectNats({ url: server.url, name: "faults-test", log });
  cleanups.push(() => nats.close());
  const consumer = stageConsumer(stage);
  await ensureStreams(nats.jsm, topology);
  await ensureConsumer(nats.jsm, consumer, topology);
  const calls: Harness["calls"] = [];
  const spec = { hashing: { consumes: "verification.requested", produces: ["content.hashed"] }, "chain-check": { consumes: "manifest.checked", produces: ["verification.completed"] } } as const;
  return {
    server,
    nats,
    durable: consumer.durable,
    calls,
    async start() {
      const loop = await runConsumeLoop({
        nats,
        topology,
        consumer,
        eventType: spec[stage].consumes,
        produces: spec[stage].produces,
        async handle(event, ctx) {
          calls.push({ jobId: event.correlationId, attempt: ctx.attempt });
          return handle(event, ctx);
        },
        onGiveUp: (event, err, attempts) => [failedEventFor(stage, event, err, attempts)],
        log,
        concurrency: opts.concurrency ?? 4,
        maxAttempts: opts.maxAttempts ?? 3,
        backoff: { baseMs: 20, maxMs: 200 },
        workingIntervalMs: 1000,
        shutdownGraceMs: opts.graceMs,
        pullExpiresMs: opts.pullExpiresMs ?? 1000,
        checkIntervalMs: 300,
      });
      cleanups.push(() => loop.stop());
      return loop;
    },
    async countOn(type, jobId) {
      const subject = subjectFor(type, jobId);
      const info = await nats.jsm.streams.info(STREAM_NAME, { subjects_filter: subject });
      return info.state.subjects?.[subject] ?? 0;
    },
    async publish(...events) {
      // Retried: right after a restart JetStream may not answer for a moment.
      await eventually(() => publishEvents(nats.js, events).then(() => true), "a publish to succeed");
    },
  };
}

const hashOk: Handle = async (event) => [hashedFor(event as Envelope<"verification.requested">)];

describe("a nats-server restart", () => {
  it("after a crash, the loop consumes again by itself within seconds, and is ready again", async () => {
    // Pull requests as in production (5 s), not shortened: nothing here waits for one to expire.
    const h = await harness("hashing", hashOk, { pullExpiresMs: 5_000 });
    const loop = await h.start();
    await h.publish(requestFor("before"));
    await eventually(() => h.countOn("content.hashed", "before"), "the first job");
    expect(loop.ready()).toBe(true);

    // A crash (kill -9) and two seconds down: the client's reconnect attempts fail meanwhile.
    await h.server.restart({ signal: "SIGKILL", downMs: 2_000 });
    const back = Date.now();
    // The test's own client publishes once it has reconnected (a request sent while
    // disconnected is lost and waits out its timeout).
    await eventually(() => h.nats.isConnected(), "the test's client reconnected");
    await eventually(() => h.nats.jsm.streams.info(STREAM_NAME).then(() => true), "JetStream answering", 15_000);
    await h.publish(requestFor("after"));
    await eventually(() => h.countOn("content.hashed", "after"), "a job published after the restart", 15_000);
    const resumedMs = Date.now() - back;
    console.info(`consuming again ${resumedMs} ms after nats-server was back`);
    expect(resumedMs).toBeLessThan(5_000);
    await eventually(() => loop.ready(), "ready again");
    expect(h.calls.filter((c) => c.jobId === "before")).toHaveLength(1);
  });
});

describe("a consumer deleted while work is in hand", () => {
  it("is recreated where processing stood: unready meanwhile, nothing finished replayed, nothing lost", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await harness("hashing", async (event, ctx) => {
      if (event.correlationId === "slow" && ctx.attempt === 1) await gate;
      return hashOk(event, ctx);
    });
    const loop = await h.start();
    const finished = Array.from({ length: 10 }, (_, i) => `done-${i}`);
    await h.publish(...finished.map(requestFor));
    await eventually(async () => (await h.nats.jsm.consumers.info(STREAM_NAME, h.durable)).ack_floor.stream_seq >= 10, "ten jobs acked");
    await sleep(700); // the loop has read the ack floor since (every 300 ms)

    await h.publish(requestFor("slow"));
    await eventually(() => h.calls.some((c) => c.jobId === "slow"), "the slow job in hand");
    const readiness: boolean[] = [];
    const sampler = setInterval(() => readiness.push(loop.ready()), 1);
    await h.nats.jsm.consumers.delete(STREAM_NAME, h.durable);

    await h.publish(requestFor("new-1"), requestFor("new-2"));
    release();
    for (const id of ["slow", "new-1", "new-2"]) await eventually(() => h.countOn("content.hashed", id), `content.hashed of ${id}`);
    await eventually(() => loop.ready(), "ready again");
    clearInterval(sampler);
    expect(readiness).toContain(false);
    expect(readiness.at(-1)).toBe(true);

    const info = await h.nats.jsm.consumers.info(STREAM_NAME, h.durable);
    expect(info.config.deliver_policy).toBe(DeliverPolicy.StartSequence);
    // Past every finished request, at or before the slow one (the oldest unfinished): not from the stream's start.
    const seqOf = async (id: string) => (await h.nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor("verification.requested", id) }))!.seq;
    const lastFinished = Math.max(...(await Promise.all(finished.map(seqOf))));
    expect(info.config.opt_start_seq).toBeGreaterThan(lastFinished);
    expect(info.config.opt_start_seq).toBeLessThanOrEqual(await seqOf("slow"));
    for (const id of finished) expect(h.calls.filter((c) => c.jobId === id), id).toHaveLength(1);
    for (const id of [...finished, "slow", "new-1", "new-2"]) {
      expect(await h.countOn("content.hashed", id), id).toBe(1);
      expect(await h.countOn("verification.failed", id), id).toBe(0);
    }
    await eventually(async () => {
      const now = await h.nats.jsm.consumers.info(STREAM_NAME, h.durable);
      return now.num_pending === 0 && now.num_ack_pending === 0;
    }, "every message acked by the new consumer");
  });

  it("one missing when a service starts is created after its checkpointed position, not from the stream's start", async () => {
    const h = await harness("hashing", hashOk);
    const loop = await h.start();
    const finished = Array.from({ length: 10 }, (_, i) => `done-${i}`);
    await h.publish(...finished.map(requestFor));
    await eventually(async () => (await h.nats.jsm.consumers.info(STREAM_NAME, h.durable)).num_ack_pending === 0 && h.calls.length === 10, "ten jobs acked");
    await sleep(700); // checkpointed since (the loop reads the ack floor every 300 ms)
    await loop.stop();

    // Deleted while no replica runs; the next start creates it as every service does.
    await h.nats.jsm.consumers.delete(STREAM_NAME, h.durable);
    const created = await ensureConsumer(h.nats.jsm, stageConsumer("hashing"), topology);
    const lastFinished = (await h.nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor("verification.requested", "done-9") }))!.seq;
    expect(created).toMatchObject({ created: true });
    expect(created.startSeq).toBeGreaterThan(lastFinished);

    await h.start();
    await h.publish(requestFor("after-restart"));
    await eventually(() => h.countOn("content.hashed", "after-restart"), "a job after the restart");
    for (const id of finished) expect(h.calls.filter((c) => c.jobId === id), id).toHaveLength(1);
  });

  it("a deleted stream is created again and read from its start", async () => {
    const h = await harness("hashing", hashOk);
    const loop = await h.start();
    await h.publish(requestFor("old"));
    await eventually(() => h.countOn("content.hashed", "old"), "the first job");
    await h.nats.jsm.streams.delete(STREAM_NAME);

    await eventually(() => h.nats.jsm.streams.info(STREAM_NAME).then(() => true), "the stream recreated by the loop");
    await h.publish(requestFor("fresh"));
    await eventually(() => h.countOn("content.hashed", "fresh"), "a job on the new stream");
    await eventually(() => loop.ready(), "ready again");
  });
});

describe("at most one terminal event per job", () => {
  it("a completion stored although its publish timed out on the last attempt is not followed by a failure", async () => {
    const h = await harness("chain-check", async (event, ctx) => {
      const completed = completedFor(event as Envelope<"manifest.checked">, ctx.attempt);
      if (ctx.attempt < 3) throw new TransientError("E_RPC_UNAVAILABLE", "rpc down");
      // The last attempt: the completion reaches the stream, but its acknowledgement never reaches us.
      await publishEvents(h.nats.js, [completed]);
      throw new natsErrors.TimeoutError();
    });
    await h.start();
    const checked = checkedFor(hashedFor(requestFor("timeout-1")));
    await h.publish(checked);

    await eventually(() => h.calls.filter((c) => c.jobId === "timeout-1").length === 3, "the last attempt");
    await eventually(async () => (await h.nats.jsm.consumers.info(STREAM_NAME, h.durable)).num_ack_pending === 0, "the message acked");
    await sleep(300);
    expect(await h.countOn("verification.completed", "timeout-1")).toBe(1);
    expect(await h.countOn("verification.failed", "timeout-1")).toBe(0);
    const stored = await h.nats.jsm.streams.getMessage(STREAM_NAME, { last_by_subj: subjectFor("verification.completed", "timeout-1") });
    expect(stored!.json<AnyEnvelope>().id).toBe(terminalEventId("timeout-1"));
  });
});

describe("shutdown", () => {
  it("lets the message in hand finish, and leaves the rest to another replica at once", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await harness("hashing", async (event, ctx) => {
      if (event.correlationId === "in-hand") await gate;
      return hashOk(event, ctx);
    }, { concurrency: 1 });
    const loop = await h.start();
    await h.publish(requestFor("in-hand"));
    await eventually(() => h.calls.some((c) => c.jobId === "in-hand"), "the job in hand");
    await h.publish(requestFor("waiting-1"), requestFor("waiting-2"));
    await sleep(200);

    const stopping = loop.stop();
    await sleep(100);
    release();
    await stopping;
    expect(await h.countOn("content.hashed", "in-hand")).toBe(1);
    expect(h.calls.map((c) => c.jobId)).toEqual(["in-hand"]);

    // Another replica takes the rest at once, not after the 30 s ack wait.
    const started = Date.now();
    const other = await h.start();
    for (const id of ["waiting-1", "waiting-2"]) await eventually(() => h.countOn("content.hashed", id), id, 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    await other.stop();
  });

  it("a message the server sends to a pull request still open at shutdown is released, not held until its ack wait", async () => {
    const h = await harness("hashing", hashOk, { concurrency: 4 });
    const loop = await h.start();
    await h.publish(requestFor("warm-up"));
    await eventually(() => h.countOn("content.hashed", "warm-up"), "the loop idle, its pull request open");

    const stopping = loop.stop();
    await h.publish(requestFor("late"));
    await stopping;
    expect(h.calls.map((c) => c.jobId)).toEqual(["warm-up"]);

    const started = Date.now();
    await h.start();
    await eventually(() => h.countOn("content.hashed", "late"), "the late job handled by another replica", 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("releases a message still in hand when the grace period is over", async () => {
    const h = await harness("hashing", async (event, ctx) => {
      if (event.correlationId === "stuck" && ctx.attempt === 1) await new Promise(() => {});
      return hashOk(event, ctx);
    }, { concurrency: 1, graceMs: 300 });
    const loop = await h.start();
    await h.publish(requestFor("stuck"));
    await eventually(() => h.calls.some((c) => c.jobId === "stuck"), "the job in hand");
    await loop.stop();

    const started = Date.now();
    await h.start();
    await eventually(() => h.countOn("content.hashed", "stuck"), "the released job handled by another replica", 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
