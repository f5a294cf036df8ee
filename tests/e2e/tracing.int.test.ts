import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STREAM_NAME } from "@veriflow/events";
import { connectNats } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { eventually, submit, waitForJob } from "../support/client.js";
import { startReceiver, type Receiver } from "../support/receiver.js";
import { startSystem, type System } from "../support/system.js";

// Tracing on, exported over OTLP/HTTP (JSON) to a receiver on loopback: one job run through
// the whole system on real servers, its trace read back from what every service exported.

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  status?: { code?: number };
  attributes?: { key: string; value: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
}
interface ExportedSpan extends OtlpSpan {
  service: string;
}

const CLIENT_TRACE = randomBytes(16).toString("hex");
const CLIENT_SPAN = randomBytes(8).toString("hex");

let sys: System;
let collector: Receiver;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  collector = await startReceiver([200]);
  const logs = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  sys = await startSystem(
    {
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url,
      LOG_LEVEL: "debug",
    },
    { logs },
  );
});

afterAll(async () => {
  await sys?.stop();
  await collector?.close();
});

/** Every span the services exported, with the service.name of its resource. */
function exportedSpans(): ExportedSpan[] {
  const out: ExportedSpan[] = [];
  for (const r of collector.requests) {
    const body = JSON.parse(r.body) as { resourceSpans: { resource: { attributes: OtlpSpan["attributes"] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
    for (const rs of body.resourceSpans) {
      const service = String(rs.resource.attributes?.find((a) => a.key === "service.name")?.value.stringValue);
      for (const ss of rs.scopeSpans) for (const s of ss.spans) out.push({ ...s, service });
    }
  }
  return out;
}

const attr = (s: OtlpSpan, key: string) => s.attributes?.find((a) => a.key === key)?.value;

describe("tracing on", () => {
  it("carries one trace id through every event of a job, and every service's spans in it, linked parent to child", async () => {
    const content = `traced ${randomBytes(16).toString("hex")}`;
    const { manifestUri } = await sys.publish(content);
    const accepted = await submit(sys.gatewayUrl, {
      file: content,
      registryAddress: sys.registry,
      manifestURI: manifestUri,
      headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const jobId = accepted.body.jobId as string;
    const job = await waitForJob(sys.gatewayUrl, jobId);
    expect(job.status).toBe("completed");

    // Every event of the job, read from the stream with its headers.
    const nats = await connectNats({ url: sys.nats.url, name: "tracing-e2e", log: createSilentLogger() });
    const headers: { subject: string; traceparent: string }[] = [];
    const consumer = await nats.js.consumers.get(STREAM_NAME, { filter_subjects: `veriflow.*.*.${jobId}` });
    const batch = await consumer.fetch({ max_messages: 100, expires: 2000 });
    for await (const m of batch) headers.push({ subject: m.subject, traceparent: m.headers?.get("traceparent") ?? "" });
    await nats.close();
    const types = headers.map((h) => h.subject);
    expect(types).toEqual(expect.arrayContaining([expect.stringContaining("verification.requested"), expect.stringContaining("verification.completed")]));
    expect(headers.length).toBeGreaterThanOrEqual(4);
    for (const h of headers) expect(h.traceparent, h.subject).toMatch(new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`));

    // The observers have taken the terminal event in (their per-event spans), then every service flushes on stop.
    await eventually("the webhooks intake's span of the terminal event", async () => {
      const r = await fetch(`${sys.webhooksUrl}/api/verification-jobs/${jobId}/deliveries`).catch(() => null);
      return r && r.status < 500 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    await sys.stop();

    const spans = exportedSpans().filter((s) => s.traceId === CLIENT_TRACE);
    const services = new Set(spans.map((s) => s.service));
    for (const service of ["gateway", "hashing", "manifest", "chain-check", "status", "webhooks"]) expect(services, service).toContain(`veriflow-${service}`);
    // Parent to child: every span's parent is the client's span or another span of the trace.
    const ids = new Set(spans.map((s) => s.spanId));
    for (const s of spans) expect([CLIENT_SPAN, ...ids], `${s.service} ${s.name}`).toContain(s.parentSpanId);
    // The request's span is the client's child; each event's traceparent names a span that exported.
    const server = spans.find((s) => s.service === "veriflow-gateway" && s.name.startsWith("POST "))!;
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    for (const h of headers) expect(ids, h.subject).toContain(h.traceparent.split("-")[2]);

    const named = (service: string, test: (s: ExportedSpan) => boolean) => spans.filter((s) => s.service === `veriflow-${service}` && test(s));
    const ethCalls = named("chain-check", (s) => s.name.split(" ").includes("eth_call"));
    expect(ethCalls.length).toBeGreaterThan(0);
    expect(attr(ethCalls[0]!, "rpc.system")).toEqual({ stringValue: "jsonrpc" });
    const fetches = named("manifest", (s) => s.name === "manifest fetch");
    expect(fetches).toHaveLength(1);
    expect(attr(fetches[0]!, "url.full")).toEqual({ stringValue: expect.stringContaining("http://127.0.0.1") });
    expect(named("status", (s) => s.name === "status apply batch").length).toBeGreaterThan(0);
    expect(named("webhooks", (s) => s.name === "webhooks intake batch").length).toBeGreaterThan(0);
    // The handler spans name their job.
    const handlers = spans.filter((s) => attr(s, "veriflow.job.id") !== undefined);
    expect(handlers.length).toBeGreaterThanOrEqual(headers.length);
    for (const s of handlers) expect(attr(s, "veriflow.job.id")).toEqual({ stringValue: jobId });

    // Logs: the access line, and every line about the job carries its trace id.
    const access = logLines.find((l) => l.msg === "request" && l.service === "gateway" && l.method === "POST" && l.jobId === jobId);
    expect(access).toMatchObject({ route: expect.stringContaining("/verify"), status: 202, traceId: CLIENT_TRACE, requestId: expect.any(String), tenant: expect.any(String) });
    expect(access!.ms).toEqual(expect.any(Number));
    const accepted_ = logLines.find((l) => l.msg === "accepted" && l.jobId === jobId);
    expect(accepted_).toMatchObject({ traceId: CLIENT_TRACE, requestId: access!.requestId });
    // The polls of the job are requests of their own, each in its own trace, and so is
    // what status logs while serving one (a poll that beats the projection projects the
    // request itself, "projected request on read").
    const polls = logLines.filter((l) => l.msg === "request" && l.method === "GET" && l.jobId === jobId);
    expect(polls.length).toBeGreaterThan(0);
    for (const l of polls) expect(l.traceId).toMatch(/^[0-9a-f]{32}$/);
    const servingPoll = new Set(polls.map((l) => l.requestId));
    for (const l of logLines.filter((l) => servingPoll.has(l.requestId))) expect(l.traceId, JSON.stringify(l)).toBe(polls.find((p) => p.requestId === l.requestId)!.traceId);
    const aboutJob = logLines.filter((l) => l.jobId === jobId && l.msg !== "request" && !servingPoll.has(l.requestId));
    expect(new Set(aboutJob.map((l) => l.service)).size).toBeGreaterThanOrEqual(3);
    for (const l of aboutJob) expect(l.traceId, JSON.stringify(l)).toBe(CLIENT_TRACE);
  });
});
