import { describe, expect, it } from "vitest";
import { UPLOADS_BUCKET, createBatchEvent, createEvent, createRequestEvent, newJobId, type AnyEnvelope } from "@veriflow/events";
import { callbacksOf, planDeliveries, terminalJobIds, type SubscriptionTarget } from "./handlers.js";

const t0 = new Date("2026-01-01T00:00:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);

function job(callbackUrl: string | null, tenant = "default") {
  const jobId = newJobId();
  const request = { jobType: "verify" as const, manifestUri: "https://m.example/x.json", registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl };
  const requested = createRequestEvent(jobId, { jobId, request, upload: { bucket: UPLOADS_BUCKET, name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } }, at(0), tenant);
  const hashed = createEvent("content.hashed", { jobId, request, contentHash: "0x" + "a".repeat(64), size: 1, startedAt: at(1).toISOString(), attempts: 1 }, requested, at(1));
  const failed = createEvent("verification.failed", { jobId, jobType: "verify", stage: "manifest", code: "E_MANIFEST_NOT_FOUND", message: "404", attempts: 1 }, hashed, at(2));
  return { jobId, requested, hashed, failed };
}

let n = 0;
const ids = () => `d${++n}`;
const sub = (id: string, eventTypes: string[], createdAt = t0, tenant = "default"): SubscriptionTarget => ({ id, tenant, url: `https://${id}.example/hook`, eventTypes, createdAt });

describe("callbacksOf / terminalJobIds", () => {
  it("remembers the callbackUrl of requests that carry one, and names the jobs of terminal events", () => {
    const a = job("https://a.example/cb");
    const b = job(null);
    expect(callbacksOf([a.requested, b.requested, a.hashed])).toEqual([{ jobId: a.jobId, tenant: "default", url: "https://a.example/cb" }]);
    expect(terminalJobIds([a.requested, a.hashed, a.failed, b.failed, a.failed])).toEqual([a.jobId, b.jobId]);
  });
});

describe("planDeliveries", () => {
  it("sends a terminal event to its job's callback, with the envelope as the body", () => {
    const a = job("https://a.example/cb");
    const plan = planDeliveries([a.requested, a.hashed, a.failed], new Map([[a.jobId, "https://a.example/cb"]]), [], ids);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ eventId: a.failed.id, eventType: "verification.failed", jobId: a.jobId, target: "job", subscriptionId: null, url: "https://a.example/cb" });
    expect(JSON.parse(plan[0]!.body)).toEqual(a.failed);
  });

  it("sends a verification.changed (a re-verification's new verdict) to its job's callback and to subscriptions listing it", () => {
    const a = job("https://a.example/cb");
    const summary = (status: "OK" | "FAIL", reasons: ("revoked")[]) => ({ status, reasons, blockNumber: 7 });
    const changed = createEvent("verification.changed", { jobId: a.jobId, run: 2, previous: summary("OK", []), current: summary("FAIL", ["revoked"]), block: 7 }, { ...a.failed, run: 2 }, at(3));
    expect(terminalJobIds([changed])).toEqual([a.jobId]);
    const plan = planDeliveries([changed], new Map([[a.jobId, "https://a.example/cb"]]), [sub("s1", ["verification.changed"])], ids);
    expect(plan.map((d) => [d.eventType, d.target])).toEqual([
      ["verification.changed", "job"],
      ["verification.changed", "subscription:s1"],
    ]);
  });

  it("sends each event to every subscription listing its type, and nothing else", () => {
    const a = job(null);
    const subs = [sub("s1", ["verification.failed"]), sub("s2", ["content.hashed", "verification.failed"]), sub("s3", ["verification.completed"])];
    const plan = planDeliveries([a.requested, a.hashed, a.failed], new Map(), subs, ids);
    expect(plan.map((d) => [d.eventType, d.target])).toEqual([
      ["content.hashed", "subscription:s2"],
      ["verification.failed", "subscription:s1"],
      ["verification.failed", "subscription:s2"],
    ]);
  });

  it("skips events that occurred before the subscription existed", () => {
    const a = job(null);
    const plan = planDeliveries([a.failed], new Map(), [sub("late", ["verification.failed"], at(3)), sub("early", ["verification.failed"], at(2))], ids);
    expect(plan.map((d) => d.target)).toEqual(["subscription:early"]);
  });

  it("sends a tenant's events to that tenant's subscriptions only, and marks each delivery with the tenant", () => {
    const mine = job(null, "acme");
    const plan = planDeliveries([mine.failed], new Map(), [sub("ours", ["verification.failed"], t0, "acme"), sub("theirs", ["verification.failed"], t0, "globex")], ids);
    expect(plan.map((d) => [d.target, d.tenant])).toEqual([["subscription:ours", "acme"]]);
  });

  it("never sends a non-terminal event to a job's callback", () => {
    const a = job("https://a.example/cb");
    expect(planDeliveries([a.requested, a.hashed], new Map([[a.jobId, "https://a.example/cb"]]), [], ids)).toEqual([]);
  });

  it("plans the same (event, target) pairs for a redelivered batch: the unique key makes the second a no-op", () => {
    const a = job("https://a.example/cb");
    const events: AnyEnvelope[] = [a.failed];
    const first = planDeliveries(events, new Map([[a.jobId, "https://a.example/cb"]]), [sub("s1", ["verification.failed"])], ids);
    const second = planDeliveries(events, new Map([[a.jobId, "https://a.example/cb"]]), [sub("s1", ["verification.failed"])], ids);
    expect(second.map((d) => [d.eventId, d.target])).toEqual(first.map((d) => [d.eventId, d.target]));
  });

  it("sends a batch.completed to its batch's callback (filed under the batch id) and to its subscriptions, never to a job's", () => {
    const batchId = newJobId();
    const data = { batchId, total: 2, completed: 1, failed: 1, verdicts: { OK: 1, WARN: 0, FAIL: 0 }, callbackUrl: "https://b.example/batch" };
    const done = createBatchEvent("batch.completed", data, "acme", at(5));
    const plan = planDeliveries([done], new Map([[batchId, "https://job.example/cb"]]), [sub("s1", ["batch.completed"], t0, "acme")], ids);
    expect(plan.map((d) => [d.target, d.url, d.jobId, d.tenant])).toEqual([
      ["batch", "https://b.example/batch", batchId, "acme"],
      ["subscription:s1", "https://s1.example/hook", batchId, "acme"],
    ]);
    // Its id is the batch's: a second publish (another status replica) plans the same deliveries.
    expect(createBatchEvent("batch.completed", data, "acme", at(9)).id).toBe(done.id);
    expect(planDeliveries([createBatchEvent("batch.completed", { ...data, callbackUrl: null }, "acme")], new Map(), [], ids)).toEqual([]);
  });
});
