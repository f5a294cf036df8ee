import { afterEach, describe, expect, it } from "vitest";
import { CID } from "multiformats/cid";
import { isLoopback, startManifestServer, type ManifestServer } from "./manifest-server.js";

let server: ManifestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe("manifest server: adding content over HTTP (for `veriflow dev publish`)", () => {
  it("PUT /manifests/<name> stores a manifest and answers its URL", async () => {
    server = await startManifestServer();
    const put = await fetch(`${server.url}/manifests/a%20b.json`, { method: "PUT", body: '{"version":"1.0"}' });
    expect(put.status).toBe(201);
    const { uri } = (await put.json()) as { uri: string };
    expect(uri).toBe(`${server.url}/manifests/a%20b.json`);
    const got = await fetch(uri);
    expect(got.headers.get("content-type")).toBe("application/json");
    expect(await got.text()).toBe('{"version":"1.0"}');
  });

  it("POST /ipfs adds bytes like `ipfs add` and answers { cid, uri }; the blocks are served", async () => {
    server = await startManifestServer();
    const post = await fetch(`${server.url}/ipfs`, { method: "POST", body: "hello ipfs" });
    expect(post.status).toBe(201);
    const { cid, uri } = (await post.json()) as { cid: string; uri: string };
    expect(uri).toBe(`ipfs://${cid}`);
    expect(cid).toBe(server.putIpfs("hello ipfs").cid);
    const block = await fetch(`${server.url}/ipfs/${CID.parse(cid).toString()}?format=raw`);
    expect(block.status).toBe(200);
  });

  it("other methods and routes stay read-only", async () => {
    server = await startManifestServer();
    expect((await fetch(`${server.url}/manifests/x`, { method: "POST", body: "{}" })).status).toBe(405);
    expect((await fetch(`${server.url}/manifests/`, { method: "PUT", body: "{}" })).status).toBe(405);
    expect((await fetch(`${server.url}/ipfs/abc`, { method: "POST", body: "{}" })).status).toBe(405);
  });

  // Tests send traffic to loopback only: the rule is checked on the addresses a socket reports.
  it("takes writes from loopback only (IPv4, IPv6, IPv4-mapped), whatever it listens on", () => {
    for (const a of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) expect(isLoopback(a), a).toBe(true);
    for (const a of ["10.0.0.5", "192.168.1.20", "::ffff:10.0.0.5", "fe80::1", undefined]) expect(isLoopback(a), String(a)).toBe(false);
  });

  it("answers 400 for a path with a broken %-escape", async () => {
    server = await startManifestServer();
    expect((await fetch(`${server.url}/manifests/%E0%A4%A`)).status).toBe(400);
  });
});
