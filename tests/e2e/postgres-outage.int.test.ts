import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS_PATH } from "@veriflow/events";
import { grpc } from "@veriflow/grpc";
import { connectNats, publishEvents, type NatsClients } from "@veriflow/nats";
import { createSilentLogger, type Env, type RunningService } from "@veriflow/platform";
import { eventually, startNatsServer, startPrivatePostgres, type NatsServerHandle, type PrivatePostgres } from "@veriflow/testing";
import { jobEvents } from "../../services/status/src/job-events.fixture.js";
import { service as statusService } from "../../services/status/src/service.js";
import { service as webhooksService } from "../../services/webhooks/src/service.js";
import { call, jobServiceClient } from "../support/grpc.js";

// Status and webhooks over a PostgreSQL cluster of this test's own, which it keeps down at
// start, then starts, then crashes (`pg_ctl stop -m immediate`) under the running services.
let nats: NatsServerHandle;
let pg: PrivatePostgres;
let publisher: NatsClients;
let status: RunningService;
let webhooks: RunningService;

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNatsServer(), startPrivatePostgres({ start: false })]);
  publisher = await connectNats({ url: nats.url, name: "outage-test", log: createSilentLogger() });
  const env: Env = {
    NATS_URL: nats.url,
    DATABASE_URL: pg.url,
    DATABASE_CONNECT_TIMEOUT_MS: "500",
    STATUS_PORT: "0",
    STATUS_HOST: "127.0.0.1",
    STATUS_GRPC_PORT: "0",
    WEBHOOKS_PORT: "0",
    WEBHOOKS_HOST: "127.0.0.1",
    WEBHOOK_SIGNING_SECRET: "whsec_" + Buffer.from("veriflow test signing secret, 32b").toString("base64"),
    OPS_PORT: "0",
    RETRY_BASE_MS: "50",
    RETRY_MAX_MS: "400",
    LOG_LEVEL: "silent",
  };
  // Both start although PostgreSQL does not answer.
  [status, webhooks] = await Promise.all([
    statusService.start(statusService.loadConfig(env), createSilentLogger()),
    webhooksService.start(webhooksService.loadConfig(env), createSilentLogger()),
  ]);
});
afterAll(async () => {
  await Promise.allSettled([status?.stop(), webhooks?.stop()]);
  await publisher?.close();
  await Promise.allSettled([nats?.stop(), pg?.destroy()]);
});

/** How long catching up may take: the migrations' retry backs off up to 15 s. */
const WAIT_MS = 45_000;
const statusUrl = (path: string) => `http://127.0.0.1:${status.port}${path}`;
const readyz = async (s: RunningService) => (await fetch(`http://127.0.0.1:${s.opsPort}/readyz`)).status;

async function get(url: string) {
  const res = await fetch(url);
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as any };
}

function expectUnavailable(r: { status: number; retryAfter: string | null; body: any }) {
  expect(r.status).toBe(503);
  expect(r.retryAfter).toBe("5");
  expect(r.body.error.code).toBe("E_DATABASE_UNAVAILABLE");
}

describe("PostgreSQL down at start, back, then crashed under running services", () => {
  const first = jobEvents();
  const second = jobEvents();

  it("answers 503 E_DATABASE_UNAVAILABLE with Retry-After on REST, UNAVAILABLE on gRPC, 503 on /readyz", async () => {
    expectUnavailable(await get(statusUrl(`${JOBS_PATH}/${first.jobId}`)));
    expectUnavailable(await get(statusUrl(`${JOBS_PATH}/stats`)));
    expectUnavailable(await get(`http://127.0.0.1:${webhooks.port}/api/webhooks`));
    expect(await readyz(status)).toBe(503);
    expect(await readyz(webhooks)).toBe(503);
    const client = jobServiceClient(`127.0.0.1:${status.grpcPort}`);
    try {
      const err = (await call((cb) => client.getJob({ jobId: first.jobId }, cb)).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.metadata.get("x-error-code")).toEqual(["E_DATABASE_UNAVAILABLE"]);
    } finally {
      client.close();
    }
  });

  it("migrates and catches up on the events published meanwhile once PostgreSQL starts", async () => {
    await publishEvents(publisher.js, [first.requested, first.hashed, first.checked, first.completed]);
    await new Promise((r) => setTimeout(r, 500));
    await pg.start();
    const job = await eventually(async () => {
      const r = await get(statusUrl(`${JOBS_PATH}/${first.jobId}`));
      return r.status === 200 && r.body.status === "completed" && r;
    }, "the first job projected", WAIT_MS);
    expect(job.body).toMatchObject({ id: first.jobId, progress: 100, result: first.completed.data.result });
    await eventually(async () => (await readyz(status)) === 200, "status ready", WAIT_MS);
    await eventually(async () => (await readyz(webhooks)) === 200, "webhooks ready", WAIT_MS);
    expect((await get(`http://127.0.0.1:${webhooks.port}/api/webhooks`)).status).toBe(200);
  });

  it("answers 503 again while PostgreSQL is crashed, and catches up when it returns", async () => {
    await pg.stop("immediate");
    expectUnavailable(await get(statusUrl(`${JOBS_PATH}/${first.jobId}`)));
    expectUnavailable(await get(statusUrl(`${JOBS_PATH}?status=completed`)));
    await eventually(async () => (await readyz(status)) === 503, "status not ready", WAIT_MS);
    await publishEvents(publisher.js, [second.requested, second.hashed, second.checked, second.failed("manifest", 2, second.hashed)]);
    await new Promise((r) => setTimeout(r, 1000));
    await pg.start();
    const job = await eventually(async () => {
      const r = await get(statusUrl(`${JOBS_PATH}/${second.jobId}`));
      return r.status === 200 && r.body.status === "failed" && r;
    }, "the second job projected", WAIT_MS);
    expect(job.body.failure).toMatchObject({ stage: "manifest", attempts: 2 });
    const stats = await get(statusUrl(`${JOBS_PATH}/stats`));
    expect(stats.body).toMatchObject({ completed: 1, failed: 1 });
    await eventually(async () => (await readyz(status)) === 200, "status ready again", WAIT_MS);
  });
});
