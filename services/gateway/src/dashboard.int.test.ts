import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Koa from "koa";
import { errorHandler, listen, requestId, type HttpServerHandle } from "@veriflow/http";
import { createSilentLogger } from "@veriflow/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_CSP, loadDashboard, serveDashboard } from "./dashboard.js";

let dir: string;
let server: HttpServerHandle;
let base: string;

/** The gateway's own middleware over a build laid out as vite writes it; anything else answers 418. */
async function serve(files: Awaited<ReturnType<typeof loadDashboard>>): Promise<HttpServerHandle> {
  const app = new Koa();
  const log = createSilentLogger();
  app.use(requestId());
  app.use(errorHandler(log));
  app.use(serveDashboard(files));
  app.use((ctx) => {
    ctx.status = 418;
  });
  return listen(app, 0, "127.0.0.1");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "veriflow-dashboard-"));
  await mkdir(join(dir, "assets"));
  await writeFile(join(dir, "index.html"), "<!doctype html><title>dash</title>");
  await writeFile(join(dir, "assets", "index-abc123.js"), "console.log(1)");
  await writeFile(join(dir, "assets", "index-abc123.css"), "body{}");
  server = await serve(await loadDashboard(dir, createSilentLogger()));
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("/dashboard", () => {
  it("answers index.html for the app and each of its routes, revalidated every time, with a strict policy", async () => {
    for (const path of ["/dashboard", "/dashboard/", "/dashboard/jobs/0f8fad5b-d9cb-469f-a165-70867728950e", "/dashboard/pipeline"]) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await res.text()).toContain("<title>dash</title>");
    }
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
  });

  it("caches hashed assets for a year with their type, and 404s an asset it does not have", async () => {
    const js = await fetch(`${base}/dashboard/assets/index-abc123.js`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await js.text()).toBe("console.log(1)");
    const missing = await fetch(`${base}/dashboard/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("E_NOT_FOUND");
    // A path that climbs out reaches nothing: the files are served from memory, by exact name.
    expect((await fetch(`${base}/dashboard/assets/..%2f..%2fetc%2fpasswd`)).status).toBe(404);
  });

  it("takes GET and HEAD only, and leaves every other path to the API", async () => {
    const post = await fetch(`${base}/dashboard/`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect((await fetch(`${base}/dashboardx`)).status).toBe(418);
    expect((await fetch(`${base}/api/verification-jobs`)).status).toBe(418);
  });

  it("says what to run when the dashboard is not built", async () => {
    const files = await loadDashboard(join(dir, "missing"), createSilentLogger());
    expect(files).toBeNull();
    const s = await serve(files);
    try {
      const res = await fetch(`http://127.0.0.1:${s.port}/dashboard/`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/npm run build/);
    } finally {
      await s.close();
    }
  });
});
