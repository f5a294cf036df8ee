import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats, openIdempotencyBucket, type NatsClients } from "@veriflow/nats";
import { createSilentLogger } from "@veriflow/platform";
import { startNatsServer, type NatsServerHandle } from "@veriflow/testing";
import { createIdempotency, type Claim } from "./idempotency.js";

// The claim protocol against a real nats-server 2.9 KV bucket, with short leases.
let server: NatsServerHandle;
let nats: NatsClients;
let kv: KV;
const log = createSilentLogger();
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const accepted = { jobId: "5b0d7d3e-0000-4000-8000-000000000001", status: "queued" as const, message: "queued", pollUrl: "/p" };

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectNats({ url: server.url, name: "idempotency-test", log });
  kv = await openIdempotencyBucket(nats.js, { ttlMs: 86_400_000, maxBytes: 64 * 1024, replicas: 1 });
});
afterAll(async () => {
  await nats?.close();
  await server?.stop();
});

describe("idempotency claims", () => {
  it("first create wins; a repeat waits for its outcome and gets the record", async () => {
    const idem = createIdempotency(kv, log, { waitMs: 3000 });
    const claim = (await idem.begin(undefined, "k1")) as Claim;
    expect(claim.kind).toBe("claimed");
    const repeat = idem.begin(undefined, "k1");
    setTimeout(() => void claim.complete("fp", accepted), 300);
    expect(await repeat).toMatchObject({ kind: "done", record: { fingerprint: "fp", accepted } });
  });

  it("answers 409 in progress while a live claim outlasts the wait, and frees the key on release", async () => {
    const idem = createIdempotency(kv, log, { waitMs: 300 });
    const claim = (await idem.begin("api", "k2")) as Claim;
    await expect(idem.begin("api", "k2")).rejects.toMatchObject({ code: "E_IDEMPOTENCY_KEY_IN_PROGRESS", status: 409, retryAfterSeconds: 1 });
    // Another API key's same key is another record.
    expect((await idem.begin("other", "k2")).kind).toBe("claimed");
    await claim.release();
    expect((await idem.begin("api", "k2")).kind).toBe("claimed");
  });

  it("takes over a claim whose gateway stopped refreshing it", async () => {
    const dead = createIdempotency(kv, log, { leaseMs: 60_000 });
    await dead.begin(undefined, "k3"); // never completed nor released, as if its gateway died
    const alive = createIdempotency(kv, log, { leaseMs: 500, waitMs: 3000 });
    await new Promise((r) => setTimeout(r, 700));
    expect((await alive.begin(undefined, "k3")).kind).toBe("claimed");
  });

  it("records the outcome when an earlier write of the claim landed unheard (a leader change)", async () => {
    const idem = createIdempotency(kv, log, { waitMs: 300 });
    const claim = (await idem.begin(undefined, "k5")) as Claim;
    // What a heartbeat whose answer timed out leaves behind: the claim's own record, at a revision the claim never heard of.
    const stored = (await kv.get("anonymous." + sha256("k5")))!;
    await kv.update(stored.key, stored.string(), stored.revision);
    await claim.complete("fp5", accepted);
    expect(await idem.begin(undefined, "k5")).toMatchObject({ kind: "done", record: { fingerprint: "fp5", accepted } });
  });

  it("does not write over a claim that is no longer its own", async () => {
    const idem = createIdempotency(kv, log, { waitMs: 300 });
    const claim = (await idem.begin(undefined, "k6")) as Claim;
    const stored = (await kv.get("anonymous." + sha256("k6")))!;
    // Taken over by another gateway (another owner) meanwhile.
    await kv.update(stored.key, JSON.stringify({ state: "pending", owner: "someone-else" }), stored.revision);
    await claim.complete("fp6", accepted);
    expect((await kv.get(stored.key))!.json()).toEqual({ state: "pending", owner: "someone-else" });
  });

  it("answers 507 when the bucket is full", async () => {
    const idem = createIdempotency(kv, log);
    // Filled to the brim: large values until one does not fit, then smaller ones.
    let i = 0;
    for (const size of [8192, 1024, 128, 8]) {
      while (await kv.put(`filler-${i++}`, new Uint8Array(size)).then(() => true, () => false));
    }
    await expect(idem.begin(undefined, "k4")).rejects.toMatchObject({ code: "E_STORAGE_FULL", status: 507, retryAfterSeconds: 60 });
  });
});
