import { randomBytes } from "node:crypto";
import { DeliverPolicy } from "@nats-io/jetstream";
import { STREAM_NAME, serviceNames, stageConsumer, subjectFor, type ServiceName } from "@veriflow/events";
import { connectNats, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { submit, waitForJob } from "../support/client.js";
import { startSystem, type System } from "../support/system.js";

// Nothing lost, nothing doubled, never stuck: the whole system, with its nats-server killed
// and a consumer deleted while jobs are in flight, counted job by job.
let sys: System;
let nats: NatsClients;
let manifestURI: string;
let content: string;

beforeAll(async () => {
  sys = await startSystem();
  nats = await connectNats({ url: sys.nats.url, name: "faults-e2e", log: createSilentLogger() });
  content = `faults ${randomBytes(16).toString("hex")}`;
  manifestURI = (await sys.publish(content)).manifestUri;
});
afterAll(async () => {
  await nats?.close();
  await sys?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Submits until the queue takes the job (202): while NATS is down the gateway answers in-process instead. */
async function submitQueued(deadlineMs = 20_000): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const res = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI }).catch(() => null);
    if (res?.status === 202) return res.body.jobId as string;
    if (Date.now() > deadline) throw new Error(`no job accepted by the queue: ${res?.status} ${JSON.stringify(res?.body)}`);
    await sleep(100);
  }
}

/** Terminal events the stream holds for a job (completed + failed). */
async function terminalEvents(jobId: string): Promise<number> {
  let n = 0;
  for (const type of ["verification.completed", "verification.failed"] as const) {
    const subject = subjectFor(type, jobId);
    const info = await nats.jsm.streams.info(STREAM_NAME, { subjects_filter: subject });
    n += info.state.subjects?.[subject] ?? 0;
  }
  return n;
}

async function readyz(name: ServiceName): Promise<number> {
  return fetch(`http://127.0.0.1:${sys.services[name].opsPort}/readyz`).then((r) => r.status, () => 0);
}

async function expectEachOnce(jobIds: string[]) {
  for (const jobId of jobIds) {
    const job = await waitForJob(sys.gatewayUrl, jobId, 60_000);
    expect(job.status, `${jobId}: ${JSON.stringify(job.error)}`).toBe("completed");
    expect(job.result.status).toBe("OK");
    expect(await terminalEvents(jobId), jobId).toBe(1);
  }
}

describe("nats-server killed (kill -9) while jobs are in flight", () => {
  it("every accepted job ends exactly once, and every service is ready again within seconds", async () => {
    const before = await Promise.all(Array.from({ length: 20 }, () => submitQueued()));
    await sys.nats.restart({ signal: "SIGKILL", downMs: 1_000 });
    const back = Date.now();

    const readyAt: Partial<Record<ServiceName, number>> = {};
    while (Object.keys(readyAt).length < serviceNames.length && Date.now() - back < 30_000) {
      for (const name of serviceNames) if (readyAt[name] === undefined && (await readyz(name)) === 200) readyAt[name] = Date.now() - back;
      await sleep(50);
    }
    console.info(`ready again after nats-server was back (ms): ${JSON.stringify(readyAt)}`);
    for (const name of serviceNames) expect(readyAt[name], name).toBeLessThan(10_000);

    const after = await Promise.all(Array.from({ length: 10 }, () => submitQueued()));
    await expectEachOnce([...before, ...after]);
  });
});

describe("a stage's consumer deleted while jobs are in flight", () => {
  it("is recreated by the running stage from where it stood: every job ends exactly once", async () => {
    const durable = stageConsumer("manifest").durable;
    const jobs = await Promise.all(Array.from({ length: 10 }, () => submitQueued()));
    await nats.jsm.consumers.delete(STREAM_NAME, durable);
    jobs.push(...(await Promise.all(Array.from({ length: 10 }, () => submitQueued()))));

    await expectEachOnce(jobs);
    // Recreated from the last ack floor the stage read (every 5 s; where it starts is tested in libs/nats).
    const info = await nats.jsm.consumers.info(STREAM_NAME, durable);
    expect([DeliverPolicy.StartSequence, DeliverPolicy.All]).toContain(info.config.deliver_policy);
    for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
      const now = await nats.jsm.consumers.info(STREAM_NAME, durable);
      if (now.num_pending + now.num_ack_pending === 0) break;
      if (Date.now() > deadline) throw new Error(`the recreated consumer still has ${now.num_pending} pending, ${now.num_ack_pending} unacknowledged`);
    }
    expect(await readyz("manifest")).toBe(200);
  });
});
