import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS_PATH, WATCHES_PATH } from "@veriflow/events";
import { revokeContent, updateManifest } from "@veriflow/testing";
import { grpc, type CreateWatchResponse__Output, type DeleteWatchResponse__Output, type ListWatchesResponse__Output, type ProtoWatch__Output } from "@veriflow/grpc";
import { eventually } from "../support/client.js";
import { buildCli, runCli } from "../support/cli.js";
import { call, jobServiceClient, submissionServiceClient } from "../support/grpc.js";
import { asKey, createKey } from "../support/keys.js";
import { startReceiver, type Receiver } from "../support/receiver.js";
import { startSystem, type System } from "../support/system.js";

// Watches on the whole system (real nats-server, PostgreSQL, hardhat chain, services), with API
// keys on: a content hash is watched without uploading it; its first verdict is reached from the
// hash alone; a revocation on chain flips it to FAIL and its callback hears verification.changed
// within seconds; DELETE stops re-verification; another tenant sees none of it; bad input is a 4xx.
const BOOT = "watches-test-bootstrap-key";
let sys: System;
const keys = {} as Record<"acme" | "globex", string>;
const receivers: Receiver[] = [];

beforeAll(async () => {
  sys = await startSystem({ API_KEYS: BOOT });
  keys.acme = (await createKey(sys.gatewayUrl, BOOT, "acme", ["submit", "read"])).key;
  keys.globex = (await createKey(sys.gatewayUrl, BOOT, "globex", ["submit", "read"])).key;
});
afterAll(async () => {
  await Promise.allSettled(receivers.map((r) => r.close()));
  await sys?.stop();
});

async function api(method: string, path: string, key: string | undefined, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = key ? asKey(key) : {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${sys.gatewayUrl}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

/** Content registered on the local chain, its manifest served: what a creator publishes. */
const publish = () => sys.publish(`watched ${randomBytes(16).toString("hex")}`);

async function watchUntil(watchId: string, key: string, done: (w: any) => boolean, timeoutMs = 15_000) {
  return eventually(
    `watch ${watchId}`,
    async () => {
      const r = await api("GET", `${WATCHES_PATH}/${watchId}`, key);
      return r.status === 200 && done(r.body) ? r.body : undefined;
    },
    timeoutMs,
  );
}

describe("watches over REST", () => {
  it("a watched hash gets a verdict without its file; a revocation flips it to FAIL and calls back within seconds; DELETE stops re-verification", async () => {
    const receiver = await startReceiver([200]);
    receivers.push(receiver);
    const published = await publish();
    const created = await api("POST", WATCHES_PATH, keys.acme, {
      contentHash: published.contentHash.toUpperCase().replace("0X", "0x"),
      manifestURI: published.manifestUri,
      registryAddress: sys.registry,
      callbackUrl: receiver.url,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const { watchId } = created.body;
    expect(created.body).toMatchObject({ jobId: watchId, status: "queued", pollUrl: `${WATCHES_PATH}/${watchId}` });
    expect(created.headers.get("location")).toBe(`${WATCHES_PATH}/${watchId}`);

    // Readable at once (read-your-write), then its first verdict, from the hash alone.
    const first = await api("GET", `${WATCHES_PATH}/${watchId}`, keys.acme);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ watchId, contentHash: published.contentHash.toLowerCase(), active: true, callbackUrl: receiver.url });
    const ok = await watchUntil(watchId, keys.acme, (w) => w.status === "completed");
    expect(ok.verdict).toMatchObject({ status: "OK", fileHash: published.contentHash.toLowerCase() });
    expect(ok.verdictHistory).toEqual([]);
    expect(Date.parse(ok.verifiedAt)).toBeGreaterThanOrEqual(Date.parse(ok.createdAt));
    // It is a job like any other: no file, the hash given.
    const job = await api("GET", `${JOBS_PATH}/${watchId}`, keys.acme);
    expect(job.body).toMatchObject({ contentHash: published.contentHash.toLowerCase(), fileName: null, fileSize: null, result: { status: "OK" } });
    const listed = await api("GET", `${WATCHES_PATH}?limit=100`, keys.acme);
    expect(listed.body.watches.map((w: any) => w.watchId)).toContain(watchId);

    // Revoked on chain: FAIL within seconds, the OK kept in the history, the callback told.
    const revokedAt = Date.now();
    await revokeContent(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, published.contentHash);
    const failed = await watchUntil(watchId, keys.acme, (w) => w.status === "completed" && w.verdict?.status === "FAIL");
    expect(failed.verdict.reasons).toContain("revoked");
    expect(failed.run).toBe(2);
    expect(failed.verdictHistory.map((v: any) => [v.run, v.status])).toEqual([[1, "OK"]]);
    // When the current verdict was reached: the re-verification's, not the first run's.
    expect(Date.parse(failed.verifiedAt)).toBeGreaterThan(Date.parse(ok.verifiedAt));
    const changed = await eventually(
      "verification.changed at the callback",
      async () => receiver.requests.map((r) => JSON.parse(r.body)).find((e) => e.type === "verification.changed"),
      10_000,
    );
    expect((Date.now() - revokedAt) / 1000).toBeLessThan(10);
    expect(changed.data).toMatchObject({ jobId: watchId, run: 2, previous: { status: "OK" }, current: { status: "FAIL" } });

    // Stopped: 204, and 204 again; readable, inactive.
    expect((await api("DELETE", `${WATCHES_PATH}/${watchId}`, keys.acme)).status).toBe(204);
    expect((await api("DELETE", `${WATCHES_PATH}/${watchId}`, keys.acme)).status).toBe(204);
    const stopped = await api("GET", `${WATCHES_PATH}/${watchId}`, keys.acme);
    expect(stopped.body).toMatchObject({ active: false, run: 2 });
    expect(typeof stopped.body.stoppedAt).toBe("string");
    expect((await api("GET", `${WATCHES_PATH}?active=true&limit=100`, keys.acme)).body.watches.map((w: any) => w.watchId)).not.toContain(watchId);

    // A watch that is still followed, on another hash, sees the next change: the registry pass ran after it.
    const control = await publish();
    const live = (await api("POST", WATCHES_PATH, keys.acme, { contentHash: control.contentHash, manifestURI: control.manifestUri, registryAddress: sys.registry })).body.watchId;
    await watchUntil(live, keys.acme, (w) => w.status === "completed" && w.verdict?.status === "OK");
    // The stopped watch's entry changes again (the creator points it elsewhere, after the revocation) and so does the live one's.
    await updateManifest(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, published.contentHash, `${published.manifestUri}?moved`);
    await revokeContent(sys.chain.rpcUrl, sys.chain.accounts[0]!.privateKey, sys.registry, control.contentHash);
    await watchUntil(live, keys.acme, (w) => w.verdict?.status === "FAIL");
    const after = await api("GET", `${WATCHES_PATH}/${watchId}`, keys.acme);
    expect(after.body).toMatchObject({ run: 2, status: "completed", verdict: { status: "FAIL" } });
    expect(receiver.requests.map((r) => JSON.parse(r.body).type).filter((t) => t === "verification.changed")).toHaveLength(1);
  });

  it("another tenant's watch is not there for it: not read, not listed, not stopped", async () => {
    const published = await publish();
    const { watchId } = (await api("POST", WATCHES_PATH, keys.acme, { contentHash: published.contentHash, manifestURI: published.manifestUri, registryAddress: sys.registry })).body;
    expect((await api("GET", `${WATCHES_PATH}/${watchId}`, keys.globex)).body.error.code).toBe("E_WATCH_NOT_FOUND");
    expect((await api("DELETE", `${WATCHES_PATH}/${watchId}`, keys.globex)).status).toBe(404);
    expect((await api("GET", `${WATCHES_PATH}?limit=100`, keys.globex)).body.watches.map((w: any) => w.watchId)).not.toContain(watchId);
    expect((await api("GET", `${WATCHES_PATH}/${watchId}`, keys.acme)).body.active).toBe(true);
    // Without a key, nothing at all.
    expect((await api("GET", WATCHES_PATH, undefined)).status).toBe(401);
  });

  it("an Idempotency-Key makes a retried create answer the same watch; the key for another watch is 409; a key is the API key's own", async () => {
    const published = await publish();
    const fields = { contentHash: published.contentHash, manifestURI: published.manifestUri, registryAddress: sys.registry, recheckEvery: "PT6H" };
    const create = async (key: string, body: unknown, idempotencyKey: string) => {
      const res = await fetch(`${sys.gatewayUrl}${WATCHES_PATH}`, { method: "POST", headers: { ...asKey(key), "content-type": "application/json", "idempotency-key": idempotencyKey }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any, replayed: res.headers.get("idempotent-replayed") };
    };
    const idem = `watch-${randomBytes(8).toString("hex")}`;
    const first = await create(keys.acme, fields, idem);
    expect([first.status, first.replayed], JSON.stringify(first.body)).toEqual([202, null]);
    const again = await create(keys.acme, { ...fields, contentHash: fields.contentHash.toUpperCase().replace("0X", "0x") }, idem);
    expect([again.status, again.replayed]).toEqual([202, "true"]);
    expect(again.body).toEqual(first.body);
    const other = await create(keys.acme, { ...fields, recheckEvery: "P1D" }, idem);
    expect([other.status, other.body.error.code]).toEqual([409, "E_IDEMPOTENCY_KEY_REUSED"]);
    // Another API key's same key is another request: a watch of its own.
    const globex = await create(keys.globex, fields, idem);
    expect([globex.status, globex.replayed]).toEqual([202, null]);
    expect(globex.body.watchId).not.toBe(first.body.watchId);
    expect((await create(keys.acme, fields, "x".repeat(256))).body.error.code).toBe("E_INVALID_IDEMPOTENCY_KEY");
    // Without a key (an empty header is none), a create is a new watch: acme has two of the hash, not three.
    const unkeyed = await create(keys.acme, fields, "");
    expect([unkeyed.status, unkeyed.replayed]).toEqual([202, null]);
    // Listed once the last is projected (the projection applies the stream in order).
    const ofHash = await eventually("the unkeyed watch listed", async () => {
      const listed = (await api("GET", `${WATCHES_PATH}?limit=100`, keys.acme)).body.watches as { watchId: string; contentHash: string }[];
      const ids = listed.filter((w) => w.contentHash === published.contentHash.toLowerCase()).map((w) => w.watchId);
      return ids.includes(unkeyed.body.watchId) ? ids : undefined;
    });
    expect(ofHash).toEqual([unkeyed.body.watchId, first.body.watchId]);
  });

  it("bad input is a 4xx a person can act on", async () => {
    const published = await publish();
    const good = { contentHash: published.contentHash, manifestURI: published.manifestUri, registryAddress: sys.registry };
    const refused = async (body: unknown, status: number, code: string) => {
      const r = await api("POST", WATCHES_PATH, keys.acme, body);
      expect([r.status, r.body?.error?.code], JSON.stringify(r.body)).toEqual([status, code]);
    };
    await refused({ ...good, contentHash: "0x1234" }, 400, "E_INVALID_CONTENT_HASH");
    await refused({ ...good, contentHash: undefined }, 400, "E_CONTENT_HASH_REQUIRED");
    await refused({ ...good, registryAddress: "not-an-address" }, 400, "E_INVALID_REGISTRY_ADDRESS");
    await refused({ ...good, manifestURI: "ftp://x/y" }, 400, "E_INVALID_MANIFEST_URI");
    await refused({ ...good, recheckEvery: 5 }, 400, "E_INVALID_RECHECK_EVERY");
    await refused({ ...good, rpcUrl: "http://127.0.0.1:8545" }, 400, "E_WATCH_RPC_URL_NOT_ALLOWED");
    await refused([good], 400, "E_INVALID_BODY");
    await refused("{not json", 400, "E_INVALID_JSON");
    const notFound = await api("GET", `${WATCHES_PATH}/${"0".repeat(8)}-0000-4000-8000-${"0".repeat(12)}`, keys.acme);
    expect([notFound.status, notFound.body.error.code]).toEqual([404, "E_WATCH_NOT_FOUND"]);
    expect((await api("DELETE", `${WATCHES_PATH}/${"0".repeat(8)}-0000-4000-8000-${"0".repeat(12)}`, keys.acme)).status).toBe(404);
    expect((await api("GET", `${WATCHES_PATH}/not-a-uuid`, keys.acme)).body.error.code).toBe("E_INVALID_WATCH_ID");
    expect((await api("GET", `${WATCHES_PATH}?active=maybe`, keys.acme)).body.error.code).toBe("E_INVALID_QUERY");
    // An upload's job is no watch.
    const upload = new FormData();
    upload.append("registryAddress", sys.registry);
    upload.append("manifestURI", published.manifestUri);
    upload.append("file", new Blob(["x"]), "x.txt");
    const job = (await (await fetch(`${sys.gatewayUrl}${JOBS_PATH}/verify`, { method: "POST", body: upload, headers: asKey(keys.acme) })).json()) as { jobId: string };
    expect((await api("GET", `${WATCHES_PATH}/${job.jobId}`, keys.acme)).status).toBe(404);
  });
});

describe("watches over gRPC", () => {
  const meta = (key: string) => {
    const m = new grpc.Metadata();
    m.set("x-api-key", key);
    return m;
  };

  it("CreateWatch queues it; GetWatch reads its verdict; ListWatches lists it; DeleteWatch stops it, twice alike; another tenant gets NOT_FOUND", async () => {
    const submissions = submissionServiceClient(sys.gatewayGrpcAddress);
    const jobs = jobServiceClient(sys.statusGrpcAddress);
    try {
      const published = await publish();
      const created = await call<CreateWatchResponse__Output>((cb) =>
        submissions.CreateWatch({ contentHash: published.contentHash, manifestUri: published.manifestUri, registryAddress: sys.registry, recheckEvery: "PT1H" }, meta(keys.acme), cb),
      );
      expect(created).toMatchObject({ status: "JOB_STATUS_QUEUED", pollUrl: `${WATCHES_PATH}/${created.watchId}` });
      // With the idempotency-key metadata, a retried create is the same watch.
      const keyed = meta(keys.acme);
      keyed.set("idempotency-key", `grpc-watch-${created.watchId}`);
      const request = { contentHash: published.contentHash, manifestUri: published.manifestUri, registryAddress: sys.registry, recheckEvery: "PT2H" };
      const once = await call<CreateWatchResponse__Output>((cb) => submissions.CreateWatch(request, keyed, cb));
      const twice = await call<CreateWatchResponse__Output>((cb) => submissions.CreateWatch(request, keyed, cb));
      expect(twice.watchId).toBe(once.watchId);
      expect(once.watchId).not.toBe(created.watchId);
      const reused = await call((cb) => submissions.CreateWatch({ ...request, recheckEvery: "PT3H" }, keyed, cb)).catch((e: grpc.ServiceError) => e);
      expect((reused as grpc.ServiceError).code).toBe(grpc.status.ALREADY_EXISTS);
      const done = await eventually(
        "the watch's verdict over gRPC",
        async () => {
          const w = await call<ProtoWatch__Output>((cb) => jobs.GetWatch({ watchId: created.watchId }, meta(keys.acme), cb));
          return w.job?.status === "JOB_STATUS_COMPLETED" ? w : undefined;
        },
        15_000,
      );
      expect(done).toMatchObject({ watchId: created.watchId, contentHash: published.contentHash.toLowerCase(), active: true, recheckEverySeconds: 3600, job: { verdict: { status: "OK" } } });
      const listed = await call<ListWatchesResponse__Output>((cb) => jobs.ListWatches({ pageSize: 100, active: true }, meta(keys.acme), cb));
      expect(listed.watches.map((w) => w.watchId)).toContain(created.watchId);

      const other = await call((cb) => jobs.GetWatch({ watchId: created.watchId }, meta(keys.globex), cb)).catch((e: grpc.ServiceError) => e);
      expect((other as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
      const otherStop = await call((cb) => jobs.DeleteWatch({ watchId: created.watchId }, meta(keys.globex), cb)).catch((e: grpc.ServiceError) => e);
      expect((otherStop as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);

      const stopped = await call<DeleteWatchResponse__Output>((cb) => jobs.DeleteWatch({ watchId: created.watchId }, meta(keys.acme), cb));
      expect(stopped.watch).toMatchObject({ watchId: created.watchId, active: false });
      const again = await call<DeleteWatchResponse__Output>((cb) => jobs.DeleteWatch({ watchId: created.watchId }, meta(keys.acme), cb));
      expect(again.watch?.stoppedAt).toEqual(stopped.watch?.stoppedAt);
      const active = await call<ListWatchesResponse__Output>((cb) => jobs.ListWatches({ pageSize: 100, active: true }, meta(keys.acme), cb));
      expect(active.watches.map((w) => w.watchId)).not.toContain(created.watchId);

      const bad = await call((cb) => submissions.CreateWatch({ contentHash: "0xnope", manifestUri: published.manifestUri, registryAddress: sys.registry }, meta(keys.acme), cb)).catch((e: grpc.ServiceError) => e);
      expect((bad as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
      expect((bad as grpc.ServiceError).metadata.get("x-error-code")).toEqual(["E_INVALID_CONTENT_HASH"]);
    } finally {
      submissions.close();
      jobs.close();
    }
  });
});

describe("watches from the CLI", () => {
  // Building the CLI (in a clean clone, every library it uses too) is set-up: it gets set-up's time, not the test's.
  beforeAll(buildCli);
  it("veriflow watch --wait exits with the verdict; veriflow watches lists it; veriflow unwatch stops it", async () => {
    const env = { VERIFLOW_URL: sys.gatewayUrl, VERIFLOW_API_KEY: keys.acme };
    const published = await publish();
    const watched = await runCli(["watch", published.contentHash, "--manifest", published.manifestUri, "--registry", sys.registry, "--wait", "--timeout", "30", "--json", "-q"], env);
    expect(watched.code, watched.stderr).toBe(0);
    const out = JSON.parse(watched.stdout.trim().split("\n").at(-1)!);
    expect(out).toMatchObject({ watchId: expect.any(String), job: { status: "completed", result: { status: "OK" } } });

    const listed = await runCli(["watches", "--active", "--limit", "100", "--json"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).watches.map((w: any) => w.watchId)).toContain(out.watchId);
    const table = await runCli(["watches", "--limit", "100"], env);
    expect(table.stdout).toMatch(new RegExp(`${out.watchId}\\s+0x[0-9a-f]{8}…[0-9a-f]{6}\\s+active\\s+OK`));

    const stopped = await runCli(["unwatch", out.watchId], env);
    expect([stopped.code, stopped.stdout]).toEqual([0, `watch ${out.watchId} stopped\n`]);
    expect((await api("GET", `${WATCHES_PATH}/${out.watchId}`, keys.acme)).body.active).toBe(false);
    // Another tenant's key: not found (exit 5, the server's 404), and nothing changes.
    const foreign = await runCli(["unwatch", out.watchId], { ...env, VERIFLOW_API_KEY: keys.globex });
    expect(foreign.code).toBe(5);
    expect(foreign.stderr).toContain("E_WATCH_NOT_FOUND");
    // A malformed hash never reaches the server.
    const usage = await runCli(["watch", "0x123", "--manifest", published.manifestUri, "--registry", sys.registry], env);
    expect(usage.code).toBe(2);
  });
});
