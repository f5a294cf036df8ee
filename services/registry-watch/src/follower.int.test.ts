import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEvent, createRequestEvent, type AnyEnvelope, type Envelope, type JobRequest, type RegistryChangedEvent, type VerifyResult } from "@veriflow/events";
import { createSilentLogger } from "@veriflow/platform";
import { createTestDatabase, deployRegistry, registerContent, revokeContent, startChain, type ChainHandle, type TestDatabase } from "@veriflow/testing";
import { followOnce, type FollowerDeps } from "./follower.js";
import { createIntake } from "./intake.js";
import { schema } from "./schema.js";

// The follower on a real hardhat chain and a real PostgreSQL: the checkpoint, restarts, and a
// reorganisation made with evm_snapshot / evm_revert.
let chain: ChainHandle;
let db: TestDatabase;
let provider: JsonRpcProvider;
let registry: string;
const key = () => chain.accounts[0]!.privateKey;

beforeAll(async () => {
  [chain, db] = await Promise.all([startChain(), createTestDatabase({ migrationsDir: schema.dir })]);
  registry = await deployRegistry(chain.rpcUrl, key());
  provider = new JsonRpcProvider(chain.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
});
afterAll(async () => {
  provider?.destroy();
  await Promise.allSettled([chain?.stop(), db?.drop()]);
});

interface Sink {
  changes: RegistryChangedEvent[];
  runs: AnyEnvelope[];
}

/** A follower as the service builds it, publishing into arrays (what a restart would read is the database). */
function follower(sink: Sink, opts: Partial<FollowerDeps> = {}): FollowerDeps {
  return {
    sql: db.sql,
    log: createSilentLogger(),
    chain: provider,
    publishChanges: async (e) => void sink.changes.push(...e),
    publishRuns: async (e) => void sink.runs.push(...e),
    confirmations: 0,
    reorgDepth: 5,
    maxRange: 1000,
    now: () => new Date(),
    ...opts,
  };
}

const hashOf = (n: number) => "0x" + n.toString(16).padStart(64, "0");

/** A completed OK job on `contentHash`, taken in through the intake as the consumer would. */
async function completedJob(jobId: string, contentHash: string, blockNumber: number): Promise<void> {
  const request: JobRequest = { jobType: "verify", manifestUri: "http://127.0.0.1/m.json", registryAddress: registry, rpcUrl: null, callbackUrl: null };
  const req = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } });
  const hashed = createEvent("content.hashed", { jobId, request, contentHash, size: 1, startedAt: new Date().toISOString(), attempts: 1 }, req);
  const result: VerifyResult = {
    status: "OK",
    reasons: [],
    fileHash: contentHash,
    recovered: chain.accounts[0]!.address,
    onchain: { creator: chain.accounts[0]!.address, timestamp: 1, manifestURI: request.manifestUri, revoked: false, blockNumber },
    checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
  };
  const completed = createEvent("verification.completed", { jobId, jobType: "verify", contentHash, result, attempts: 1 }, hashed);
  await createIntake({ sql: db.sql, log: createSilentLogger(), publish: async () => {}, now: () => new Date() })([hashed, completed]);
}

const checkpoint = async () => Number((await db.sql<{ nextBlock: string }[]>`select next_block from watched_registries where address = ${registry.toLowerCase()}`)[0]!.nextBlock);

describe("followOnce", () => {
  it("reads a change once from the checkpoint, re-verifies the job as a bulk run, and resumes after a restart without repeating it", async () => {
    const h = hashOf(1);
    const reg = await registerContent(chain.rpcUrl, key(), registry, h, "http://127.0.0.1/m.json");
    await completedJob("11111111-1111-4111-8111-111111111111", h, reg.blockNumber);
    expect(await checkpoint()).toBe(reg.blockNumber + 1);

    const revocation = await revokeContent(chain.rpcUrl, key(), registry, h);
    const first: Sink = { changes: [], runs: [] };
    await followOnce(follower(first));
    expect(first.changes.map((c) => [c.data.kind, c.data.blockNumber, c.data.removed])).toEqual([["revoked", revocation.blockNumber, false]]);
    expect(first.changes[0]!.data).toMatchObject({ contentHash: h, txHash: revocation.txHash.toLowerCase(), registryAddress: registry.toLowerCase() });
    expect(first.runs).toHaveLength(1);
    const run = first.runs[0] as Envelope<"content.hashed">;
    expect(run).toMatchObject({ type: "content.hashed", correlationId: "11111111-1111-4111-8111-111111111111", run: 2, causationId: first.changes[0]!.id });
    expect(run.data.request.priority).toBe("bulk");
    expect(await checkpoint()).toBe(revocation.blockNumber + 1);

    // A restart is a new follower on the same database: it re-reads the window, knows the log, publishes nothing.
    const second: Sink = { changes: [], runs: [] };
    await followOnce(follower(second));
    expect(second).toEqual({ changes: [], runs: [] });
  });

  it("with confirmations, reads a log only once enough blocks are on top of it", async () => {
    const h = hashOf(2);
    const reg = await registerContent(chain.rpcUrl, key(), registry, h, "http://127.0.0.1/m.json");
    await completedJob("22222222-2222-4222-8222-222222222222", h, reg.blockNumber);
    await revokeContent(chain.rpcUrl, key(), registry, h);
    const sink: Sink = { changes: [], runs: [] };
    await followOnce(follower(sink, { confirmations: 2 }));
    expect(sink.changes.filter((c) => c.data.contentHash === h)).toEqual([]);
    await provider.send("hardhat_mine", ["0x2"]);
    await followOnce(follower(sink, { confirmations: 2 }));
    // The registration is new to the follower too, but the job's verdict was read at its block: only the revocation re-verifies it.
    expect(sink.changes.filter((c) => c.data.contentHash === h).map((c) => c.data.kind)).toEqual(["registered", "revoked"]);
    expect(sink.runs.filter((r) => r.correlationId === "22222222-2222-4222-8222-222222222222")).toHaveLength(1);
  });

  it("a reorganisation within the depth: the vanished log is reported removed, the replacing chain's log is new, each re-verifies", async () => {
    const h = hashOf(3);
    const reg = await registerContent(chain.rpcUrl, key(), registry, h, "http://127.0.0.1/m.json");
    await completedJob("33333333-3333-4333-8333-333333333333", h, reg.blockNumber);
    await followOnce(follower({ changes: [], runs: [] }));

    const snapshot = await provider.send("evm_snapshot", []);
    const revocation = await revokeContent(chain.rpcUrl, key(), registry, h);
    const before: Sink = { changes: [], runs: [] };
    await followOnce(follower(before));
    expect(before.changes.map((c) => c.data.kind)).toEqual(["revoked"]);

    // The revocation's block leaves the chain; another block takes its number.
    expect(await provider.send("evm_revert", [snapshot])).toBe(true);
    await provider.send("hardhat_mine", ["0x1"]);
    const replaced = await provider.getBlock(revocation.blockNumber);
    expect(replaced!.hash).not.toBe(before.changes[0]!.data.blockHash);
    const after: Sink = { changes: [], runs: [] };
    await followOnce(follower(after));
    expect(after.changes.map((c) => [c.data.kind, c.data.removed, c.data.blockHash])).toEqual([["revoked", true, before.changes[0]!.data.blockHash]]);
    expect(after.changes[0]!.id).not.toBe(before.changes[0]!.id);
    // The job is re-verified again (its entry is back to registered), as a run after the last.
    expect(after.runs.map((r) => r.run)).toEqual([(before.runs[0]!.run ?? 1) + 1]);

    // Mined again in the new chain, the revocation is a new log (a new block hash): reported once more.
    const again = await revokeContent(chain.rpcUrl, key(), registry, h);
    const last: Sink = { changes: [], runs: [] };
    await followOnce(follower(last));
    expect(last.changes.map((c) => [c.data.kind, c.data.removed, c.data.blockNumber])).toEqual([["revoked", false, again.blockNumber]]);
  });

  it("a reorganisation deeper than the depth is not seen (the window stops there)", async () => {
    const h = hashOf(4);
    const reg = await registerContent(chain.rpcUrl, key(), registry, h, "http://127.0.0.1/m.json");
    await completedJob("44444444-4444-4444-8444-444444444444", h, reg.blockNumber);
    const snapshot = await provider.send("evm_snapshot", []);
    await revokeContent(chain.rpcUrl, key(), registry, h);
    await followOnce(follower({ changes: [], runs: [] }, { reorgDepth: 1 }));
    await provider.send("hardhat_mine", ["0x5"]);
    await followOnce(follower({ changes: [], runs: [] }, { reorgDepth: 1 }));
    await provider.send("evm_revert", [snapshot]);
    await provider.send("hardhat_mine", ["0x8"]);
    const sink: Sink = { changes: [], runs: [] };
    await followOnce(follower(sink, { reorgDepth: 1 }));
    expect(sink.changes.filter((c) => c.data.contentHash === h)).toEqual([]);
  });
});
