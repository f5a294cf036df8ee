import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PermanentError, TransientError } from "@veriflow/errors";
import { findFreePort, startManifestServer, type ManifestServer } from "@veriflow/testing";
import { createManifestFetcher, type ManifestFetchConfig, type ManifestFetcher } from "./fetch-manifest.js";

const MAX = 64 * 1024;
const manifestJson = (n: number) => ({ version: "1.0", algorithm: "sha256", note: `manifest ${n}` });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

let a: ManifestServer; // the main server: manifests and a trustless gateway
let b: ManifestServer; // a second origin / gateway
let deadPort: number; // nothing listens here
const open: ManifestFetcher[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startManifestServer(), startManifestServer()]);
  deadPort = await findFreePort();
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((f) => f.close()));
});

function fetcher(over: Partial<ManifestFetchConfig> = {}): ManifestFetcher {
  const f = createManifestFetcher({
    ipfsGateways: [a.url],
    timeoutMs: 1000,
    maxBytes: MAX,
    allowHttp: true,
    allowedPrivateHosts: [`127.0.0.1:${a.port}`],
    ...over,
  });
  open.push(f);
  return f;
}

async function failure(p: Promise<unknown>): Promise<PermanentError | TransientError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof PermanentError || err instanceof TransientError)) throw new Error(`expected a pipeline error, got ${String(err)}`);
  return err;
}
const permanent = async (p: Promise<unknown>) => {
  const err = await failure(p);
  expect(err).toBeInstanceOf(PermanentError);
  return err.code;
};
const transient = async (p: Promise<unknown>) => {
  const err = await failure(p);
  expect(err).toBeInstanceOf(TransientError);
  return err.code;
};

describe("https/http manifests", () => {
  it("fetches an http manifest when http is allowed", async () => {
    const url = a.putManifest("m1.json", manifestJson(1));
    const got = await fetcher().fetchManifest(url);
    expect(JSON.parse(text(got.bytes))).toEqual(manifestJson(1));
    expect(got.cid).toBeNull();
  });

  it("refuses http when it is not allowed, without any request", async () => {
    const url = a.putManifest("m2.json", manifestJson(2));
    const before = a.requests();
    expect(await permanent(fetcher({ allowHttp: false }).fetchManifest(url))).toBe("E_MANIFEST_URI_NOT_ALLOWED");
    expect(a.requests()).toBe(before);
  });

  it.each(["ftp://example.org/m.json", "file:///etc/passwd", "gopher://x", "not a uri", "https://"])("refuses %s as invalid", async (uri) => {
    expect(await permanent(fetcher().fetchManifest(uri))).toBe("E_MANIFEST_URI_INVALID");
  });

  it("refuses private hosts, by IP literal or by resolved name, before sending anything", async () => {
    const f = fetcher({ allowedPrivateHosts: [] });
    a.putManifest("m3.json", manifestJson(3));
    const before = a.requests();
    for (const host of ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]", "0.0.0.0"]) {
      expect(await permanent(f.fetchManifest(`http://${host}:${a.port}/manifests/m3.json`)), host).toBe("E_MANIFEST_HOST_NOT_ALLOWED");
    }
    expect(a.requests()).toBe(before);
  });

  it("fetches from allow-listed private hosts: ip:port, bare ip, name", async () => {
    const url = a.putManifest("m4.json", manifestJson(4));
    expect(text((await fetcher({ allowedPrivateHosts: [`127.0.0.1:${a.port}`] }).fetchManifest(url)).bytes)).toContain("manifest 4");
    expect(text((await fetcher({ allowedPrivateHosts: ["127.0.0.1"] }).fetchManifest(url)).bytes)).toContain("manifest 4");
    const byName = `http://localhost:${a.port}/manifests/m4.json`;
    expect(text((await fetcher({ allowedPrivateHosts: ["LOCALHOST"] }).fetchManifest(byName)).bytes)).toContain("manifest 4");
    // The port is part of a host:port entry.
    expect(await permanent(fetcher({ allowedPrivateHosts: [`127.0.0.1:${b.port}`] }).fetchManifest(url))).toBe(
      "E_MANIFEST_HOST_NOT_ALLOWED",
    );
  });

  it("enforces maxBytes from Content-Length and while streaming", async () => {
    const f = fetcher();
    const exact = a.putManifest("exact.json", "x".repeat(MAX));
    expect((await f.fetchManifest(exact)).bytes.length).toBe(MAX);
    const big = a.putManifest("big.json", "x".repeat(MAX + 1));
    expect(await permanent(f.fetchManifest(big))).toBe("E_MANIFEST_TOO_LARGE");
    expect(await permanent(f.fetchManifest(`${a.url}/big?bytes=${10 * MAX}`))).toBe("E_MANIFEST_TOO_LARGE");
    expect((await f.fetchManifest(`${a.url}/big?bytes=${MAX}`)).bytes.length).toBe(MAX); // chunked, at the limit
  });

  it("times out a server that never answers, or never finishes the body", async () => {
    const f = fetcher({ timeoutMs: 300 });
    for (const path of ["/stall", "/stall-body"]) {
      const started = Date.now();
      expect(await transient(f.fetchManifest(`${a.url}${path}`))).toBe("E_MANIFEST_UNAVAILABLE");
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(1500);
    }
  });

  it("treats 404/410 as permanent, 5xx/429/refused connections as transient, other 4xx as rejected", async () => {
    const f = fetcher({ allowedPrivateHosts: [`127.0.0.1:${a.port}`, `127.0.0.1:${deadPort}`] });
    expect(await permanent(f.fetchManifest(`${a.url}/manifests/missing.json`))).toBe("E_MANIFEST_NOT_FOUND");
    const url = a.putManifest("flaky.json", manifestJson(5));
    a.failNext(url, 1, 410);
    expect(await permanent(f.fetchManifest(url))).toBe("E_MANIFEST_NOT_FOUND");
    a.failNext(url, 2, 503);
    expect(await transient(f.fetchManifest(url))).toBe("E_MANIFEST_UNAVAILABLE");
    expect(await transient(f.fetchManifest(url))).toBe("E_MANIFEST_UNAVAILABLE");
    expect(text((await f.fetchManifest(url)).bytes)).toContain("manifest 5"); // recovered
    a.failNext(url, 1, 429);
    expect(await transient(f.fetchManifest(url))).toBe("E_MANIFEST_UNAVAILABLE");
    a.failNext(url, 1, 403);
    expect(await permanent(f.fetchManifest(url))).toBe("E_MANIFEST_REJECTED");
    expect(await transient(f.fetchManifest(`http://127.0.0.1:${deadPort}/m.json`))).toBe("E_MANIFEST_UNAVAILABLE");
  });
});

describe("redirects", () => {
  it("follows up to 3 redirects and refuses a 4th", async () => {
    const target = a.putManifest("r.json", manifestJson(6));
    const r1 = a.putRedirect("r1", target, 301);
    a.putRedirect("r2", r1, 307);
    const r3 = a.putRedirect("r3", "/redirects/r2", 308); // relative Location
    const r4 = a.putRedirect("r4", r3);
    expect(text((await fetcher().fetchManifest(r3)).bytes)).toContain("manifest 6");
    expect(await permanent(fetcher().fetchManifest(r4))).toBe("E_MANIFEST_TOO_MANY_REDIRECTS");
  });

  it("re-checks every hop: an allowed host cannot redirect to a private one", async () => {
    const onB = b.putManifest("secret.json", { secret: true });
    const hopToB = a.putRedirect("to-b", onB);
    const hopToLocalhost = a.putRedirect("to-localhost", `http://localhost:${a.port}/manifests/r.json`);
    const hopToFtp = a.putRedirect("to-ftp", "ftp://example.org/m.json");
    const before = b.requests();
    expect(await permanent(fetcher().fetchManifest(hopToB))).toBe("E_MANIFEST_HOST_NOT_ALLOWED");
    expect(await permanent(fetcher().fetchManifest(hopToLocalhost))).toBe("E_MANIFEST_HOST_NOT_ALLOWED");
    expect(await permanent(fetcher().fetchManifest(hopToFtp))).toBe("E_MANIFEST_URI_INVALID");
    expect(b.requests()).toBe(before);
    // Allow-listing B as well lets the same redirect through.
    const both = fetcher({ allowedPrivateHosts: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
    expect(JSON.parse(text((await both.fetchManifest(hopToB)).bytes))).toEqual({ secret: true });
  });
});

describe("ipfs:// manifests", () => {
  const dead = () => `http://127.0.0.1:${deadPort}`;

  it("reads through the second gateway when the first is down; gateways are exempt from the private-host guard", async () => {
    const doc = JSON.stringify(manifestJson(7));
    const { cid, uri } = a.putIpfs(doc);
    const got = await fetcher({ ipfsGateways: [dead(), a.url], allowedPrivateHosts: [] }).fetchManifest(uri);
    expect(text(got.bytes)).toBe(doc);
    expect(got.cid).toBe(cid);
  });

  it("reads raw leaves, multi-block files and directory paths", async () => {
    const f = fetcher();
    const doc = JSON.stringify({ ...manifestJson(8), pad: randomBytes(2500).toString("hex") }); // no two chunks alike
    const raw = a.putIpfs(doc, { rawLeaves: true });
    expect(raw.cid.startsWith("bafkrei")).toBe(true);
    expect(text((await f.fetchManifest(raw.uri)).bytes)).toBe(doc);
    const chunked = a.putIpfs(doc, { chunkSize: 256, maxChildren: 4 }); // 3 levels of dag-pb
    const before = a.requests();
    expect(text((await f.fetchManifest(chunked.uri)).bytes)).toBe(doc);
    expect(a.requests() - before).toBeGreaterThan(20);
    const dir = a.putIpfsDirectory({ "v1/manifest.json": doc, "readme.txt": "hi" }, { rawLeaves: true });
    expect(text((await f.fetchManifest(`ipfs://${dir}/v1/manifest.json`)).bytes)).toBe(doc);
    expect(await permanent(f.fetchManifest(`ipfs://${dir}/v1/other.json`))).toBe("E_IPFS_PATH_NOT_FOUND");
    expect(await permanent(f.fetchManifest(`ipfs://${dir}`))).toBe("E_IPFS_NOT_A_FILE");
    expect(await permanent(f.fetchManifest("ipfs://not-a-cid"))).toBe("E_MANIFEST_URI_INVALID");
  });

  it("moves on from a gateway answering 503 or stalling", async () => {
    const { uri, cid } = a.putIpfs(JSON.stringify(manifestJson(9)));
    b.putIpfs(JSON.stringify(manifestJson(9)));
    a.failNext(`/ipfs/${cid}`, 1, 503);
    expect(text((await fetcher({ ipfsGateways: [a.url, b.url] }).fetchManifest(uri)).bytes)).toContain("manifest 9");
    const started = Date.now();
    const f = fetcher({ ipfsGateways: [`${a.url}/stall`, b.url], timeoutMs: 300 });
    expect(text((await f.fetchManifest(uri)).bytes)).toContain("manifest 9");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("rejects a tampered block and falls back to an honest gateway", async () => {
    const doc = JSON.stringify(manifestJson(10));
    const { uri, cid } = a.putIpfs(doc);
    b.putIpfs(doc);
    a.tamper(cid, true);
    try {
      expect(text((await fetcher({ ipfsGateways: [a.url, b.url] }).fetchManifest(uri)).bytes)).toBe(doc);
      // Every gateway tampering is a permanent verdict on what they serve.
      b.tamper(cid, true);
      expect(await permanent(fetcher({ ipfsGateways: [a.url, b.url] }).fetchManifest(uri))).toBe("E_CID_MISMATCH");
      expect(await permanent(fetcher({ ipfsGateways: [a.url] }).fetchManifest(uri))).toBe("E_CID_MISMATCH");
      // One tampering, one down: worth retrying later.
      expect(await transient(fetcher({ ipfsGateways: [a.url, dead()] }).fetchManifest(uri))).toBe("E_IPFS_UNAVAILABLE");
    } finally {
      a.tamper(cid, false);
      b.tamper(cid, false);
    }
  });

  it("rejects a tampered leaf inside a multi-block file", async () => {
    const doc = JSON.stringify({ ...manifestJson(11), pad: "q".repeat(2000) });
    const { uri } = a.putIpfs(doc, { chunkSize: 512, rawLeaves: true });
    const leaf = b.putIpfs(doc.slice(512, 1024), { rawLeaves: true }).cid; // the CID of the 2nd leaf
    a.tamper(leaf, true);
    try {
      expect(await permanent(fetcher().fetchManifest(uri))).toBe("E_CID_MISMATCH");
    } finally {
      a.tamper(leaf, false);
    }
  });

  it("is transient when every gateway is down or lacks the content", async () => {
    const { uri } = a.putIpfs(JSON.stringify(manifestJson(12)));
    expect(await transient(fetcher({ ipfsGateways: [dead(), b.url] }).fetchManifest(uri))).toBe("E_IPFS_UNAVAILABLE");
    expect(await transient(fetcher({ ipfsGateways: [] }).fetchManifest(uri))).toBe("E_IPFS_UNAVAILABLE");
  });

  it("enforces maxBytes on IPFS content", async () => {
    const { uri } = a.putIpfs("z".repeat(MAX + 1), { chunkSize: 16 * 1024 });
    expect(await permanent(fetcher().fetchManifest(uri))).toBe("E_MANIFEST_TOO_LARGE");
  });

  it("serves verified blocks from its cache", async () => {
    const { uri, cid } = a.putIpfs(JSON.stringify(manifestJson(13)));
    const f = fetcher();
    await f.fetchManifest(uri);
    const before = a.requests(`/ipfs/${cid}`);
    for (let i = 0; i < 5; i++) expect(text((await f.fetchManifest(uri)).bytes)).toContain("manifest 13");
    expect(a.requests(`/ipfs/${cid}`)).toBe(before);
  });
});
