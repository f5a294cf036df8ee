import { networkInterfaces } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { CID } from "multiformats/cid";
import { startManifestServer, type ManifestServer } from "./manifest-server.js";

let server: ManifestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === "IPv4" && !i.internal)?.address;

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

  it.skipIf(!externalAddress)("refuses writes from anything but loopback, even when listening on every interface", async () => {
    server = await startManifestServer({ host: "0.0.0.0" });
    const res = await fetch(`http://${externalAddress}:${server.port}/manifests/x`, { method: "PUT", body: "{}" });
    expect(res.status).toBe(403);
    expect((await fetch(`http://127.0.0.1:${server.port}/manifests/x`, { method: "PUT", body: "{}" })).status).toBe(201);
  });
});
