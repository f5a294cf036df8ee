import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEvent, createRequestEvent, type AnyEnvelope, type Envelope, type JobRequest, type VerifyResult } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, deployRegistry, registerContent, revokeContent, startChain, type ChainHandle, type TestDatabase } from "@veriflow/testing";
import { followOnce, type FollowerDeps } from "./follower.js";
import { createIntake } from "./intake.js";
import { recheckOnce } from "./rechecks.js";
import { schema } from "./schema.js";

// Watches (jobs whose request gave the hash) on a real chain and PostgreSQL: each followed on its
// own, a stopped one never re-verified (whichever replica took the stop, and in whichever order),
// and a run already going when it stopped reports no verification.changed.
let chain: ChainHandle;
let db: TestDatabase;
let provider: JsonRpcProvider;
let registry: string;
const key = () => chain.accounts[0]!.privateKey;
const manifestUri = "http://127.0.0.1/w.json";

beforeAll(async () => {
  [chain, db] = await Promise.all([startChain(), createTestDatabase({ migrationsDir: schema.dir })]);
  registry = await deployRegistry(chain.rpcUrl, key());
  provider = new JsonRpcProvider(chain.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
});
afterAll(async () => {
  provider?.destroy();
  await Promise.allSettled([chain?.stop(), db?.drop()]);
});

const hashOf = (n: number) => "0x" + n.toString(16).padStart(64, "0");
const jobIdOf = (n: number) => `${String(n).repeat(8)}-0000-4000-8000-${String(n).repeat(12)}`;
const intake = (published: AnyEnvelope[] = []) => createIntake({ sql: db.sql, log: createSilentLogger(), publish: async (e) => void published.push(...e), now: () => new Date() });
const follower = (runs: AnyEnvelope[]): FollowerDeps => ({
  sql: db.sql,
  log: createSilentLogger(),
  chain: provider,
  publishChanges: async () => {},
  publishRuns: async (e) => void runs.push(...e),
  confirmations: 0,
  reorgDepth: 5,
  maxRange: 1000,
  now: () => new Date(),
});

/** A job's content.hashed as the hashing stage passes it on: given (a watch) or computed (an upload). */
function hashedOf(jobId: string, contentHash: string, watch: boolean, extra: Partial<JobRequest> = {}): Envelope<"content.hashed"> {
  const request: JobRequest = { jobType: "verify", manifestUri, registryAddress: registry, rpcUrl: null, callbackUrl: null, ...extra };
  const upload = { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null };
  const req = createRequestEvent(jobId, watch ? { jobId, request, contentHash, upload: null } : { jobId, request, upload });
  return createEvent("content.hashed", { jobId, request, contentHash, size: watch ? 0 : 1, startedAt: new Date().toISOString(), attempts: 1, ...(watch ? { hashGiven: true as const } : {}) }, req);
}

function completedOf(hashed: Envelope<"content.hashed">, status: "OK" | "FAIL", blockNumber: number): Envelope<"verification.completed"> {
  const { contentHash, jobId } = hashed.data;
  const result: VerifyResult = {
    status,
    reasons: status === "OK" ? [] : ["revoked"],
    fileHash: contentHash,
    recovered: chain.accounts[0]!.address,
    onchain: { creator: chain.accounts[0]!.address, timestamp: 1, manifestURI: status === "OK" ? manifestUri : "", revoked: status !== "OK", blockNumber },
    checks: { manifestHashOk: true, creatorOk: true, manifestOk: status === "OK", didOk: true },
  };
  return createEvent("verification.completed", { jobId, jobType: "verify", contentHash, result, attempts: 1 }, hashed);
}

const stopped = (jobId: string, cause: { id: string; correlationId: string }) => createEvent("watch.stopped", { jobId, stoppedAt: new Date().toISOString() }, cause);

describe("watches in registry-watch", () => {
  it("follows each watch on its own beside the latest upload job, and never a stopped one, even when the stop came before its content.hashed", async () => {
    const h = hashOf(0x77);
    const reg = await registerContent(chain.rpcUrl, key(), registry, h, manifestUri);
    const [a, b, c] = [jobIdOf(1), jobIdOf(2), jobIdOf(3)];
    const [upload1, upload2] = [jobIdOf(4), jobIdOf(5)];
    const hashed = { a: hashedOf(a, h, true), b: hashedOf(b, h, true), c: hashedOf(c, h, true), u1: hashedOf(upload1, h, false), u2: hashedOf(upload2, h, false) };
    // c's stop is taken in before its content.hashed (another replica's batch, say).
    await intake()([stopped(c, hashed.c)]);
    // The first upload's verdict is the older one.
    await intake()([hashed.u1, completedOf(hashed.u1, "OK", reg.blockNumber)]);
    await new Promise((r) => setTimeout(r, 10));
    await intake()([hashed.a, hashed.b, hashed.c, hashed.u2].flatMap((e) => [e, completedOf(e, "OK", reg.blockNumber)]));
    // b is stopped after its verdict.
    await intake()([stopped(b, hashed.b)]);

    await revokeContent(chain.rpcUrl, key(), registry, h);
    const runs: AnyEnvelope[] = [];
    await followOnce(follower(runs));
    // Watch a on its own, and of the two uploads of the same content the latest: not b, not c.
    expect(runs.map((r) => r.correlationId).sort()).toEqual([a, upload2].sort());
    expect((runs.find((r) => r.correlationId === a) as Envelope<"content.hashed">).data.hashGiven).toBe(true);
  });

  it("a run started before the stop ends without a verification.changed; a live watch's reports one", async () => {
    const h = hashOf(0x78);
    const reg = await registerContent(chain.rpcUrl, key(), registry, h, manifestUri);
    const [live, gone] = [jobIdOf(6), jobIdOf(7)];
    const first = { live: hashedOf(live, h, true), gone: hashedOf(gone, h, true) };
    await intake()(Object.values(first).flatMap((e) => [e, completedOf(e, "OK", reg.blockNumber)]));
    const revocation = await revokeContent(chain.rpcUrl, key(), registry, h);
    const runs: AnyEnvelope[] = [];
    await followOnce(follower(runs));
    expect(runs.map((r) => r.correlationId).sort()).toEqual([live, gone].sort());
    // `gone` is stopped while its run goes on; both runs then end FAIL.
    await intake()([stopped(gone, first.gone)]);
    const published: AnyEnvelope[] = [];
    await intake(published)(runs.flatMap((r) => [r, completedOf(r as Envelope<"content.hashed">, "FAIL", revocation.blockNumber)]));
    expect(published.map((e) => [e.type, e.correlationId])).toEqual([["verification.changed", live]]);
  });

  it("a stopped watch's scheduled re-checks stop too", async () => {
    const h = hashOf(0x79);
    const jobId = jobIdOf(8);
    const hashed = hashedOf(jobId, h, true, { recheckEverySeconds: 300 });
    await intake()([hashed, completedOf(hashed, "OK", 1)]);
    const due = new Date(Date.now() + 301_000);
    await intake()([stopped(jobId, hashed)]);
    const runs: AnyEnvelope[] = [];
    await recheckOnce({ sql: db.sql, log: createSilentLogger(), publishRuns: async (e) => void runs.push(...e), now: () => due });
    expect(runs.filter((r) => r.correlationId === jobId)).toEqual([]);
  });
});
