import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { jobPriorities, pipeline, serviceNames, stageDurable, type StageName } from "@veriflow/events";
import { alertQueries, dashboardQueries, metricNamesIn } from "../../deploy/prometheus/queries.js";
import { eventually, submit, waitForJob } from "../support/client.js";
import { call, jobServiceClient } from "../support/grpc.js";
import { parseMetrics, sumOf, type Sample } from "../support/metrics.js";
import { systemTest } from "../support/shared-system.js";
import type { System } from "../support/system.js";

// What deploy/ ships against what the services export: every metric an alert or a dashboard
// panel reads is on some service's /metrics, and the new metrics count what happened.
let sys: System;
systemTest.beforeAll(({ system }) => {
  sys = system;
});

const consumers = [...pipeline.stages.map((s) => s.durable), ...pipeline.observers.map((o) => o.durable)];

/** Every service's /metrics (with OPS_TOKEN when the system sets one), and the names each declares. */
async function scrapeAll(): Promise<{ samples: Sample[]; declared: Set<string> }> {
  const token = sys.env.OPS_TOKEN;
  const texts = await Promise.all(
    serviceNames.map(async (name) => {
      const res = await fetch(`http://127.0.0.1:${sys.services[name].opsPort}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(res.status, name).toBe(200);
      return res.text();
    }),
  );
  const declared = new Set<string>();
  for (const text of texts) {
    // A declared metric is exported with its TYPE even before its first sample; a histogram's series carry suffixes.
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      declared.add(name!);
      if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) declared.add(name! + suffix);
    }
  }
  return { samples: texts.flatMap(parseMetrics), declared };
}

/** A sample summed over the services' scrapes once (the test system runs them in one process: one registry). */
const valueOf = (samples: Sample[], name: string, labels: Record<string, string> = {}) => sumOf(samples, name, labels) / serviceNames.length;

describe("metrics", () => {
  it("every metric the alert rules and the Grafana panels read is exported", async () => {
    const { declared } = await scrapeAll();
    const missing = [...alertQueries(), ...dashboardQueries()].flatMap((q) => metricNamesIn(q.expr).filter((m) => !declared.has(m)).map((m) => `${q.where}: ${m}`));
    expect(missing).toEqual([]);
  });

  it("the README's Operating it names every veriflow metric the services export", async () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const operating = readme.slice(readme.indexOf("## Operating it"), readme.indexOf("\n## ", readme.indexOf("## Operating it") + 1));
    const { declared } = await scrapeAll();
    const own = [...declared].filter((m) => m.startsWith("veriflow_") && !/_(bucket|sum|count)$/.test(m));
    expect(own.length).toBeGreaterThan(20);
    expect(own.filter((m) => !operating.includes(`\`${m}`))).toEqual([]);
  });

  it("counts each job run once in the job duration, per stage in the stage duration, and shows every consumer's queue", async () => {
    const before = (await scrapeAll()).samples;
    const published = [];
    // One after another: each registration is a transaction of the same account.
    for (const type of ["verify", "verify", "proof"] as const) {
      const content = `metrics ${randomBytes(16).toString("hex")}`;
      published.push({ type, content, manifestUri: (await sys.publish(content)).manifestUri });
    }
    const jobs = await Promise.all(
      published.map(async ({ type, content, manifestUri }) => {
        const accepted = await submit(sys.gatewayUrl, { file: content, registryAddress: sys.registry, manifestURI: manifestUri, type });
        expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
        return waitForJob(sys.gatewayUrl, accepted.body.jobId);
      }),
    );
    expect(jobs.map((j) => j.status)).toEqual(["completed", "completed", "completed"]);

    const delta = (after: Sample[], name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    // The queue gauges are read at most every 5 s (createScrapeReading): the next reading shows every stage's ack floor moved.
    const floorMoved = (samples: Sample[]) => pipeline.stages.every((s) => delta(samples, "veriflow_consumer_ack_floor_sequence", { consumer: s.durable }) > 0);
    const after = await eventually("the job durations observed and the queue read again", async () => {
      const { samples } = await scrapeAll();
      return delta(samples, "veriflow_job_duration_seconds_count") >= 3 && floorMoved(samples) ? samples : undefined;
    });
    expect(delta(after, "veriflow_job_duration_seconds_count", { type: "verify", outcome: "completed" })).toBe(2);
    expect(delta(after, "veriflow_job_duration_seconds_count", { type: "proof", outcome: "completed" })).toBe(1);
    expect(delta(after, "veriflow_job_duration_seconds_count", { outcome: "failed" })).toBe(0);
    // Under a minute each, and more than nothing: a duration, not a count of something else.
    const seconds = delta(after, "veriflow_job_duration_seconds_sum");
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(3 * 60);
    // The proof is bulk work (an asynchronous proof): its stages' durations are their bulk consumers'.
    const stageOk = (stage: StageName) => jobPriorities.reduce((n, p) => n + delta(after, "veriflow_stage_duration_seconds_count", { consumer: stageDurable(stage, p), outcome: "ok" }), 0);
    for (const stage of pipeline.stages) expect(stageOk(stage.service), stage.durable).toBeGreaterThanOrEqual(3);

    for (const consumer of consumers) {
      for (const name of ["veriflow_consumer_pending_messages", "veriflow_consumer_ack_pending_messages", "veriflow_consumer_ack_floor_sequence", "veriflow_dead_letter_messages"]) {
        const series = after.filter((s) => s.name === name && s.labels.consumer === consumer);
        expect(series.length, `${name}{consumer="${consumer}"}`).toBeGreaterThan(0);
        expect(series.every((s) => Number.isFinite(s.value) && s.value >= 0)).toBe(true);
      }
    }
    expect(after.filter((s) => s.name === "veriflow_webhook_deliveries_pending").map((s) => s.labels.state)).toEqual(expect.arrayContaining(["waiting", "retrying"]));
  });

  it("counts gRPC calls by service, method and code", async () => {
    const calls = (samples: Sample[], code: string) => valueOf(samples, "veriflow_grpc_requests_total", { service: "veriflow.v1.JobService", method: "GetJob", code });
    const before = (await scrapeAll()).samples;
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    const err = await call((cb) => jobs.getJob({ jobId: "00000000-0000-4000-8000-000000000000" }, new grpc.Metadata(), cb)).catch((e: grpc.ServiceError) => e);
    jobs.close();
    expect((err as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    const after = (await scrapeAll()).samples;
    expect(calls(after, "NOT_FOUND") - calls(before, "NOT_FOUND")).toBe(1);
    expect(valueOf(after, "veriflow_grpc_request_seconds_count", { service: "veriflow.v1.JobService", method: "GetJob" })).toBeGreaterThanOrEqual(1);
  });
});
