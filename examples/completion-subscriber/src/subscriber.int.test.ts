import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { submit } from "../../../tests/support/client.js";
import { systemTest } from "../../../tests/support/shared-system.js";
import type { System } from "../../../tests/support/system.js";
import type { CompletionData, FailureData, InvalidEventError, VeriflowEvent } from "./contract.js";
import { COMPLETIONS, FAILURES, startSubscriber, type DeliveryInfo, type RunningSubscriber } from "./subscriber.js";

// The whole system on real servers, and the example subscriber as an outsider would run
// it: its own durable consumers, the JSON Schemas of docs/events, nothing of veriflow's code.
let sys: System;
systemTest.beforeAll(({ system }) => {
  sys = system;
});

interface Recorder {
  events: VeriflowEvent[];
  invalid: { err: InvalidEventError; info: DeliveryInfo }[];
  waitFor(pred: (e: VeriflowEvent) => boolean, timeoutMs?: number): Promise<VeriflowEvent>;
}

function record(): Recorder {
  const r: Recorder = {
    events: [],
    invalid: [],
    async waitFor(pred, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = r.events.find(pred);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching event after ${timeoutMs} ms; got ${JSON.stringify(r.events.map((e) => e.correlationId))}`);
        await new Promise((res) => setTimeout(res, 25));
      }
    },
  };
  return r;
}

function subscribe(durable: string, filterSubject: string, rec: Recorder, deliverPolicy: "new" | "all" = "new"): Promise<RunningSubscriber> {
  return startSubscriber({
    natsUrl: sys.nats.url,
    durable,
    filterSubject,
    deliverPolicy,
    onEvent: (event) => void rec.events.push(event),
    onInvalid: (err, info) => void rec.invalid.push({ err, info }),
  });
}

/** Registers fresh content and submits it through REST; returns the job id. */
async function submitRegistered(label: string): Promise<string> {
  const content = `${label} ${randomBytes(16).toString("hex")}`;
  const { manifestUri } = await sys.publish(content);
  const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  return accepted.body.jobId;
}

const jobOf = (jobId: string) => (e: VeriflowEvent) => e.correlationId === jobId;

describe("completion subscriber", () => {
  it("receives a completion with its job id and verdict, once per durable across restarts", async () => {
    // deliverPolicy "all": only the durable's ack floor, not the start position, can keep
    // job A from coming back after the restart.
    const first = record();
    let sub = await subscribe("example-completions", COMPLETIONS, first, "all");
    const jobA = await submitRegistered("a");
    const completion = (await first.waitFor(jobOf(jobA))) as VeriflowEvent<CompletionData>;
    expect(completion).toMatchObject({ type: "verification.completed", correlationId: jobA, data: { jobId: jobA, jobType: "verify", result: { status: "OK", reasons: [] } } });
    await sub.stop();

    // Same durable name, new process: it resumes after its last ack. Job B proves it is
    // live; job A must not come back.
    const second = record();
    sub = await subscribe("example-completions", COMPLETIONS, second, "all");
    const jobB = await submitRegistered("b");
    await second.waitFor(jobOf(jobB));
    await new Promise((res) => setTimeout(res, 500));
    await sub.stop();
    expect(second.events.map((e) => e.correlationId)).toEqual([jobB]);

    // The events are still in the stream: a different durable replaying history gets both.
    const other = record();
    const replay = await subscribe("example-replay", COMPLETIONS, other, "all");
    await other.waitFor(jobOf(jobB));
    await replay.stop();
    expect(other.events.map((e) => e.correlationId)).toEqual(expect.arrayContaining([jobA, jobB]));
    expect(other.events.filter(jobOf(jobA))).toHaveLength(1);
  });

  it("receives failures on a second consumer", async () => {
    const rec = record();
    const sub = await subscribe("example-failures", FAILURES, rec);
    const accepted = await submit(sys.gatewayUrl, { file: "x", registryAddress: sys.registry, manifestURI: `${sys.manifests.url}/manifests/does-not-exist` });
    const failure = (await rec.waitFor(jobOf(accepted.body.jobId))) as VeriflowEvent<FailureData>;
    await sub.stop();
    expect(failure).toMatchObject({ type: "verification.failed", data: { stage: "manifest", code: "E_MANIFEST_NOT_FOUND" } });
  });

  it("terminates a message that breaks the contract instead of reacting to it", async () => {
    const rec = record();
    const sub = await subscribe("example-strict", COMPLETIONS, rec);
    const nc = await connect({ servers: sys.nats.url });
    const bogus = { id: "bogus-1", type: "verification.completed", occurredAt: new Date().toISOString(), correlationId: "bogus", causationId: null, data: { jobId: "bogus", verdict: "OK" } };
    const js = (await import("@nats-io/jetstream")).jetstream(nc);
    await js.publish("veriflow.verification.completed.bogus", JSON.stringify(bogus));
    const deadline = Date.now() + 10_000;
    while (rec.invalid.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
    await nc.close();
    await sub.stop();
    expect(rec.events).toEqual([]);
    expect(rec.invalid).toHaveLength(1);
    expect(rec.invalid[0]!.err.message).toMatch(/bad verification\.completed/);
  });
});
