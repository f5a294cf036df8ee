import { createEvent, createRequestEvent, createRetryEvent, deriveEventId, type Envelope, type JobRequest } from "@veriflow/events";
import { PermanentError, TransientError } from "@veriflow/errors";
import { createSilentLogger } from "@veriflow/platform";
import type { HandlerContext } from "@veriflow/pipeline";
import { createSignedManifest, formatDid, type Manifest } from "@veriflow/verify";
import { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { createHandlers, type ManifestDeps } from "./handlers.js";

// Hardhat dev accounts #0 and #1: well-known keys, never used for anything real.
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const ADDR0 = new Wallet(KEY0).address;
const ADDR1 = new Wallet(KEY1).address;

const T0 = new Date("2025-01-01T00:00:00.000Z");
const NOW = new Date("2025-01-01T00:00:09.000Z");
const HASH = "0x" + "ab".repeat(32);
const OTHER_HASH = "0x" + "cd".repeat(32);
const URI = "https://example.com/manifest.json";

const request: JobRequest = { jobType: "verify", manifestUri: URI, registryAddress: "0x" + "2".repeat(40), rpcUrl: null, callbackUrl: null };

function hashedEvent(contentHash = HASH, jobId = "job-1"): Envelope<"content.hashed"> {
  const req = createRequestEvent(
    jobId,
    { jobId, request, upload: { bucket: "b", name: jobId, size: 1, fileName: null, contentType: null, nuid: null, chunks: null, digest: null } },
    T0,
  );
  return createEvent("content.hashed", { jobId, request, contentHash, size: 1, startedAt: T0.toISOString(), attempts: 1 }, req, T0);
}

const ctx = (attempt = 1): HandlerContext => ({ attempt, log: createSilentLogger() });
const bytesOf = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));

function depsServing(doc: unknown, cid: string | null = null) {
  const fetched: string[] = [];
  const deps: ManifestDeps = {
    async fetchManifest(uri) {
      fetched.push(uri);
      return { bytes: typeof doc === "string" ? new TextEncoder().encode(doc) : bytesOf(doc), cid };
    },
    now: () => NOW,
  };
  return { deps, fetched };
}

const signed = (overrides: Partial<Manifest> = {}, contentHash = HASH, key = KEY0): Manifest => ({
  ...createSignedManifest({ contentHash, privateKey: key, chainId: 31337, createdAt: T0 }),
  ...overrides,
});

async function check(doc: unknown, input = hashedEvent(), attempt = 1) {
  const out = await createHandlers(depsServing(doc).deps).onContentHashed(input, ctx(attempt));
  expect(out).toHaveLength(1);
  const ev = out[0]!;
  expect(ev.data.known).toBeUndefined();
  return ev;
}

describe("manifest onContentHashed", () => {
  it("fetches the request's manifest URI and emits manifest.checked with the recovered signer", async () => {
    const manifest = signed();
    const { deps, fetched } = depsServing(manifest, "bafy-cid");
    const input = hashedEvent();
    const out = await createHandlers(deps).onContentHashed(input, ctx(3));

    expect(fetched).toEqual([URI]);
    expect(out).toHaveLength(1);
    const ev = out[0]!;
    expect(ev.type).toBe("manifest.checked");
    expect(ev.id).toBe(deriveEventId(input.id, "manifest.checked"));
    expect(ev.correlationId).toBe("job-1");
    expect(ev.causationId).toBe(input.id);
    expect(ev.occurredAt).toBe(NOW.toISOString());
    expect(ev.data).toEqual({
      jobId: "job-1",
      request,
      contentHash: HASH,
      manifest: {
        uri: URI,
        cid: "bafy-cid",
        contentHash: HASH,
        contentUri: null,
        creatorDid: formatDid(31337, ADDR0),
        createdAt: T0.toISOString(),
        signature: manifest.signature,
      },
      recovered: ADDR0,
      checks: { manifestHashOk: true, signatureOk: true, didOk: true },
      attempts: 3,
    });
  });

  it("compares content hashes case-insensitively", async () => {
    const ev = await check(signed(), hashedEvent(HASH.toUpperCase().replace("0X", "0x")));
    expect(ev.data.checks?.manifestHashOk).toBe(true);
  });

  it("flags a manifest signed for another content hash", async () => {
    const ev = await check(signed({}, OTHER_HASH));
    expect(ev.data.recovered).toBe(ADDR0);
    expect(ev.data.checks).toEqual({ manifestHashOk: false, signatureOk: true, didOk: true });
    expect(ev.data.manifest?.contentHash).toBe(OTHER_HASH);
  });

  it("flags a creator DID that is not the signer", async () => {
    const ev = await check(signed({ creator_did: formatDid(31337, ADDR1) }));
    expect(ev.data.recovered).toBe(ADDR0);
    expect(ev.data.checks).toEqual({ manifestHashOk: true, signatureOk: true, didOk: false });
  });

  it("reports an unusable signature as recovered null", async () => {
    const good = signed();
    // v = 31 is neither 27/28, 0/1 nor EIP-155: ethers refuses it.
    const ev = await check({ ...good, signature: good.signature.slice(0, -2) + "1f" });
    expect(ev.data.recovered).toBeNull();
    expect(ev.data.checks).toEqual({ manifestHashOk: true, signatureOk: false, didOk: false });
  });

  it("a signature over the hash by another key recovers that key, not the DID's", async () => {
    const byKey1 = signed({}, HASH, KEY1);
    const ev = await check({ ...byKey1, creator_did: formatDid(31337, ADDR0) });
    expect(ev.data.recovered).toBe(ADDR1);
    expect(ev.data.checks?.didOk).toBe(false);
  });

  it("throws PermanentError E_MANIFEST_INVALID for an invalid manifest", async () => {
    for (const doc of ["not json", { ...signed(), version: "2.0" }, { ...signed(), signature: "0x1234" }]) {
      const p = createHandlers(depsServing(doc).deps).onContentHashed(hashedEvent(), ctx());
      await expect(p).rejects.toBeInstanceOf(PermanentError);
      await expect(p).rejects.toMatchObject({ code: "E_MANIFEST_INVALID" });
    }
  });

  it("lets errors from the fetcher propagate unchanged", async () => {
    for (const err of [new TransientError("E_MANIFEST_UNAVAILABLE", "timeout"), new PermanentError("E_MANIFEST_TOO_LARGE", "big"), new Error("boom")]) {
      const deps: ManifestDeps = { fetchManifest: () => Promise.reject(err), now: () => NOW };
      await expect(createHandlers(deps).onContentHashed(hashedEvent(), ctx())).rejects.toBe(err);
    }
  });
});

describe("manifest onContentHashed, a known verdict", () => {
  const record = { jobId: "job-0", run: 1, decidedAtBlock: 12 };
  function depsKnowing(found: typeof record | null) {
    const served = depsServing(signed());
    const asked: string[] = [];
    const deps: ManifestDeps = {
      ...served.deps,
      findKnown: async (event) => {
        asked.push(event.data.jobId);
        return found;
      },
    };
    return { deps, fetched: served.fetched, asked };
  }

  it("points at it in manifest.checked, without fetching the manifest and without stating a verdict", async () => {
    const { deps, fetched, asked } = depsKnowing(record);
    const input = hashedEvent();
    const out = await createHandlers(deps).onContentHashed(input, ctx(2));
    expect(fetched).toEqual([]);
    expect(asked).toEqual(["job-1"]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: "manifest.checked", id: deriveEventId(input.id, "manifest.checked"), causationId: input.id });
    expect(out[0]!.data).toEqual({
      jobId: "job-1",
      request,
      contentHash: HASH,
      known: { ...record, hashed: { size: 1, startedAt: T0.toISOString() } },
      attempts: 2,
    });
  });

  it("fetches and checks when no known verdict still holds", async () => {
    const { deps, fetched, asked } = depsKnowing(null);
    const out = await createHandlers(deps).onContentHashed(hashedEvent(), ctx());
    expect(asked).toEqual(["job-1"]);
    expect(fetched).toEqual([URI]);
    expect(out[0]!.data).toMatchObject({ checks: { manifestHashOk: true } });
    expect(out[0]!.data.known).toBeUndefined();
  });

  it("never looks for one when the request asks to be fresh, or for a later run (a re-verification)", async () => {
    const { deps, fetched, asked } = depsKnowing(record);
    const fresh = hashedEvent();
    const freshInput = { ...fresh, data: { ...fresh.data, request: { ...request, fresh: true } } };
    expect((await createHandlers(deps).onContentHashed(freshInput, ctx()))[0]!.data.known).toBeUndefined();
    const rerun = createRetryEvent(hashedEvent(), 2, "cause", NOW);
    expect((await createHandlers(deps).onContentHashed(rerun, ctx()))[0]!.data.known).toBeUndefined();
    expect(asked).toEqual([]);
    expect(fetched).toEqual([URI, URI]);
  });
});
