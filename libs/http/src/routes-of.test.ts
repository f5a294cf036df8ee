import Koa from "koa";
import { describe, expect, it } from "vitest";
import { createRouter } from "./router.js";
import { routesOf } from "./routes-of.js";

describe("routesOf", () => {
  it("lists every route of every mounted router, prefixes applied, without the routers' own middleware", () => {
    const jobs = createRouter({ prefix: "/api/jobs" });
    jobs.use(async (_ctx, next) => next());
    jobs.get("/", () => {});
    jobs.post("/:id/retry", () => {});
    const hooks = createRouter();
    hooks.delete("/api/hooks/:id", () => {});
    const app = new Koa();
    app.use(async (_ctx, next) => next());
    app.use(jobs.routes());
    app.use(jobs.allowedMethods());
    app.use(hooks.routes());
    expect(routesOf(app)).toEqual([
      { path: "/api/jobs", methods: ["HEAD", "GET"] },
      { path: "/api/jobs/:id/retry", methods: ["POST"] },
      { path: "/api/hooks/:id", methods: ["DELETE"] },
    ]);
  });
});
