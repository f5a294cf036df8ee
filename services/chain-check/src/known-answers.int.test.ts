import { createHash } from "node:crypto";
import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKnownAnswers, createChainEndpoints, readChainEndpointConfig } from "@veriflow/adapters";
import { createEvent, createRequestEvent, deriveEventId, type Envelope, type JobRequest, type KnownVerdict, type VerifyResult } from "@veriflow/events";
import { connectNats, createKnownVerdictStore, openKnownVerdictsBucket, readTopologyConfig, type KnownVerdictStore, type NatsClients } from "@veriflow/nats";
import { EnvReader, createSilentLogger } from "@veriflow/platform";
import { deployRegistry, registerContent, revokeContent, startChain, startNatsServer, updateManifest, type ChainHandle, type NatsServerHandle } from "@veriflow/testing";
import { createHandlers } from "./handlers.js";

// Answering from a known verdict on a real hardhat chain and a real JetStream bucket, without
// registry-watch: the check both stages run (createKnownAnswers), and chain-check confirming the
// record a manifest.checked points at. The record alone never answers once the registry has a log
// of the content hash after the record's block; logs of other hashes, and new blocks, do not matter.

let chain: ChainHandle;
let server: NatsServerHandle;
let nats: NatsClients;
let provider: JsonRpcProvider;
let store: KnownVerdictStore;
let registry: string;
let chains: ReturnType<typeof createChainEndpoints>;
const key = () => chain.accounts[0]!.privateKey;
const log = createSilentLogger();
const ctx = { attempt: 1, log };

beforeAll(async () => {
  [chain, server] = await Promise.all([startChain(), startNatsServer()]);
  registry = await deployRegistry(chain.rpcUrl, key());
  provider = new JsonRpcProvider(chain.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  nats = await connectNats({ url: server.url, name: "known-answers-test", log });
  store = createKnownVerdictStore(await openKnownVerdictsBucket(nats.js, readTopologyConfig(new EnvReader({}))));
  chains = createChainEndpoints(readChainEndpointConfig(new EnvReader({ RPC_URL: chain.rpcUrl })));
});

afterAll(async () => {
  provider?.destroy();
  await chains?.close();
  await nats?.close();
  await Promise.allSettled([chain?.stop(), server?.stop()]);
});

const hashOf = (label: string) => "0x" + createHash("sha256").update(label).digest("hex");

function hashedEvent(contentHash: string, manifestUri: string, jobId = "job-b"): Envelope<"content.hashed"> {
  const request: JobRequest = { jobType: "verify", manifestUri, registryAddress: registry, rpcUrl: null, callbackUrl: null };
  const req = createRequestEvent(jobId, { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } }, new Date());
  return createEvent("content.hashed", { jobId, request, contentHash, size: 1, startedAt: new Date().toISOString(), attempts: 1 }, req);
}

/** What the manifest stage sends for a job whose question has the record `verdict`: a pointer, no manifest. */
function pointingAt(verdict: KnownVerdict, hashed: Envelope<"content.hashed">): Envelope<"manifest.checked"> {
  const { jobId, request, contentHash, size, startedAt } = hashed.data;
  const known = { jobId: verdict.jobId, run: verdict.run, decidedAtBlock: verdict.decidedAtBlock, hashed: { size, startedAt } };
  return createEvent("manifest.checked", { jobId, request, contentHash, known, attempts: 1 }, hashed);
}

/** Registers a content and records an OK verdict for it, decided at the registration's block. */
async function registeredAndKnown(label: string): Promise<{ hash: string; uri: string; verdict: KnownVerdict }> {
  const hash = hashOf(label);
  const uri = `https://manifests.example/${label}.json`;
  const { blockNumber } = await registerContent(chain.rpcUrl, key(), registry, hash, uri);
  const creator = chain.accounts[0]!.address;
  const result: VerifyResult = {
    status: "OK",
    reasons: [],
    fileHash: hash,
    recovered: creator,
    onchain: { creator, timestamp: 1, manifestURI: uri, revoked: false, blockNumber },
    checks: { manifestHashOk: true, creatorOk: true, manifestOk: true, didOk: true },
  };
  const verdict: KnownVerdict = { jobId: `job-${label}`, run: 1, decidedAtBlock: blockNumber, result };
  await store.record({ tenant: "default", jobType: "verify", registryAddress: registry, contentHash: hash, manifestUri: uri }, verdict);
  return { hash, uri, verdict };
}

const answers = (maxBlocks = 10_000) => createKnownAnswers({ known: store, chain: provider, maxBlocks });
const chainCheck = () => createHandlers({ chainFor: chains.chainFor, checkRpcUrl: chains.checkRpcUrl, answerFromKnown: answers(), now: () => new Date() });

describe("createKnownAnswers on a real chain", () => {
  it("answers with the recorded verdict while the entry has no later log, however many blocks (of other hashes) follow", async () => {
    const { hash, uri, verdict } = await registeredAndKnown("steady");
    expect(await answers()(hashedEvent(hash, uri), log)).toEqual({ reuse: true, known: verdict, result: { ...verdict.result, reusedFrom: verdict.jobId, decidedAtBlock: verdict.decidedAtBlock } });
    await registerContent(chain.rpcUrl, key(), registry, hashOf("someone else"), "https://manifests.example/else.json");
    expect(await answers()(hashedEvent(hash, uri), log)).toMatchObject({ reuse: true, result: { reusedFrom: verdict.jobId } });
  });

  it("decides afresh once the entry is revoked or its manifest updated after the verdict's block", async () => {
    const revoked = await registeredAndKnown("revoked");
    await revokeContent(chain.rpcUrl, key(), registry, revoked.hash);
    expect(await answers()(hashedEvent(revoked.hash, revoked.uri), log)).toEqual({ reuse: false, why: "entry_changed" });
    const updated = await registeredAndKnown("updated");
    await updateManifest(chain.rpcUrl, key(), registry, updated.hash, `${updated.uri}?v2`);
    expect(await answers()(hashedEvent(updated.hash, updated.uri), log)).toEqual({ reuse: false, why: "entry_changed" });
  });

  it("decides afresh for another question, and for a verdict too many blocks behind the head", async () => {
    const { hash, uri } = await registeredAndKnown("question");
    expect(await answers()(hashedEvent(hash, `${uri}?other`), log)).toEqual({ reuse: false, why: "unknown" });
    await registerContent(chain.rpcUrl, key(), registry, hashOf("one more block"), "https://manifests.example/more.json");
    expect(await answers(0)(hashedEvent(hash, uri), log)).toEqual({ reuse: false, why: "too_far_behind" });
    expect(await answers(1)(hashedEvent(hash, uri), log)).toMatchObject({ reuse: true });
  });

  it("the store keeps the later of two verdicts of a question, and forgets those decided before a change", async () => {
    const { hash, uri, verdict } = await registeredAndKnown("kept");
    const question = { tenant: "default", jobType: "verify" as const, registryAddress: registry, contentHash: hash, manifestUri: uri };
    await store.record(question, { ...verdict, jobId: "older", decidedAtBlock: verdict.decidedAtBlock - 1 });
    expect((await store.find(question))?.jobId).toBe(verdict.jobId);
    expect(await store.forget(registry, hash, verdict.decidedAtBlock)).toBe(0);
    expect(await store.forget(registry, hash, verdict.decidedAtBlock + 1)).toBe(1);
    expect(await store.find(question)).toBeNull();
  });
});

describe("chain-check confirming a pointer to a known verdict, on a real chain", () => {
  it("completes the job with the recorded verdict, marked reusedFrom, while it holds", async () => {
    const { hash, uri, verdict } = await registeredAndKnown("confirmed");
    const [out] = await chainCheck().onManifestChecked(pointingAt(verdict, hashedEvent(hash, uri)), ctx);
    expect(out).toMatchObject({ type: "verification.completed", data: { result: { status: "OK", reusedFrom: verdict.jobId, decidedAtBlock: verdict.decidedAtBlock } } });
  });

  it("sends the job back for a full run when the entry changed between the two stages", async () => {
    const { hash, uri, verdict } = await registeredAndKnown("changed-between");
    const pointer = pointingAt(verdict, hashedEvent(hash, uri));
    // The manifest stage saw the record current; the revocation lands before chain-check reads.
    await revokeContent(chain.rpcUrl, key(), registry, hash);
    const [out] = await chainCheck().onManifestChecked(pointer, ctx);
    expect(out).toMatchObject({ type: "content.hashed", id: deriveEventId(pointer.id, "content.hashed"), data: { contentHash: hash, request: { manifestUri: uri, fresh: true } } });
  });

  it("answers from a later verdict that replaced the one pointed at, and sends the job back once the record is forgotten", async () => {
    const { hash, uri, verdict } = await registeredAndKnown("replaced");
    const question = { tenant: "default", jobType: "verify" as const, registryAddress: registry, contentHash: hash, manifestUri: uri };
    const pointer = pointingAt(verdict, hashedEvent(hash, uri));
    // A full run of the same question completed meanwhile: its verdict is the record now, and holds.
    await store.record(question, { ...verdict, jobId: "job-later" });
    expect((await chainCheck().onManifestChecked(pointer, ctx))[0]).toMatchObject({ type: "verification.completed", data: { result: { reusedFrom: "job-later" } } });
    await store.forget(registry, hash, Number.MAX_SAFE_INTEGER);
    expect((await chainCheck().onManifestChecked(pointer, ctx))[0]).toMatchObject({ type: "content.hashed", data: { request: { fresh: true } } });
  });

  it("answers a pointer at another question's record from this question's own record, never from theirs", async () => {
    const mine = await registeredAndKnown("mine");
    const theirs = await registeredAndKnown("theirs");
    // A forged or misdirected pointer: chain-check reads the record of the question the event asks.
    const [out] = await chainCheck().onManifestChecked(pointingAt(theirs.verdict, hashedEvent(mine.hash, mine.uri)), ctx);
    expect(out).toMatchObject({ type: "verification.completed", data: { contentHash: mine.hash, result: { reusedFrom: mine.verdict.jobId, fileHash: mine.hash } } });
  });
});
