import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lookupAlways, startManifestServer, type ManifestServer } from "@veriflow/testing";
import { boundedGet, createGuardedAgent } from "./safe-http.js";

let server: ManifestServer;
beforeAll(async () => {
  server = await startManifestServer();
});
afterAll(() => server?.stop());


const get = (agent: ReturnType<typeof createGuardedAgent>, url: string) =>
  boundedGet(agent, new URL(url), {
    signal: AbortSignal.timeout(2000),
    timeoutMs: 2000,
    maxBytes: 1024,
    tooLargeCode: "E_MANIFEST_TOO_LARGE",
    headers: {},
  });

describe("createGuardedAgent", () => {
  it("checks the addresses a name resolves to at connect time", async () => {
    server.putManifest("x.json", { x: 1 });
    const agent = createGuardedAgent({ allowedPrivateHosts: [], connectTimeoutMs: 1000, lookup: lookupAlways("127.0.0.1") });
    const before = server.requests();
    await expect(get(agent, `http://innocent.example:${server.port}/manifests/x.json`)).rejects.toMatchObject({
      code: "E_MANIFEST_HOST_NOT_ALLOWED",
    });
    expect(server.requests()).toBe(before);
    await agent.close();
  });

  it("lets an allow-listed name connect wherever it resolves, and reuses the connection", async () => {
    server.putManifest("y.json", { y: 1 });
    const agent = createGuardedAgent({
      allowedPrivateHosts: [`dev.example:${server.port}`],
      connectTimeoutMs: 1000,
      lookup: lookupAlways("127.0.0.1"),
    });
    const connections = new Set<unknown>();
    agent.on("connect", (origin) => connections.add(String(origin)));
    for (let i = 0; i < 3; i++) {
      const res = await get(agent, `http://dev.example:${server.port}/manifests/y.json`);
      expect(res.status).toBe(200);
    }
    expect(connections.size).toBe(1);
    await agent.close();
  });
});
