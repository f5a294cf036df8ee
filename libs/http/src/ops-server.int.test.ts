import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOpsServer, type OpsServer } from "./ops-server.js";

// Two ops servers on 127.0.0.1: one open (no OPS_TOKEN), one asking for a token.
let open: OpsServer;
let guarded: OpsServer;
let ready = true;

beforeAll(async () => {
  open = await startOpsServer({ opsPort: 0, opsHost: "127.0.0.1", opsToken: null }, () => ready);
  guarded = await startOpsServer({ opsPort: 0, opsHost: "127.0.0.1", opsToken: "ops-secret" }, () => ready);
});
afterAll(async () => {
  await open?.close();
  await guarded?.close();
});

const get = (server: OpsServer, path: string, token?: string) =>
  fetch(`http://127.0.0.1:${server.port}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then((r) => r.status);

describe("the ops endpoints", () => {
  it("answer anyone without OPS_TOKEN; readiness follows the service's dependencies", async () => {
    expect(await get(open, "/healthz")).toBe(200);
    expect(await get(open, "/metrics")).toBe(200);
    expect(await get(open, "/readyz")).toBe(200);
    ready = false;
    expect(await get(open, "/readyz")).toBe(503);
    ready = true;
  });

  it("with OPS_TOKEN, keep /healthz open for liveness and ask for the token on /readyz and /metrics", async () => {
    expect(await get(guarded, "/healthz")).toBe(200);
    for (const path of ["/readyz", "/metrics"]) {
      expect(await get(guarded, path)).toBe(401);
      expect(await get(guarded, path, "wrong")).toBe(401);
      expect(await get(guarded, path, "ops-secret")).toBe(200);
    }
  });
});
