import type { Router } from "@koa/router";
import type Koa from "koa";

/** A route an app serves: its path pattern as the router has it (`/api/webhooks/:id`) and the methods it takes. */
export interface HttpRoute {
  path: string;
  methods: string[];
}

/**
 * The routes of every router mounted on `app` (`app.use(router.routes())`), read from the
 * routers themselves: @koa/router marks its dispatch middleware with the router, whose
 * stack holds each route's layer. A router's own `use()` middleware has no methods and is
 * left out. For whoever must reach every route without a list written beside the routers
 * (the fuzz suite, tests/fuzz).
 */
export function routesOf(app: Koa<any, any>): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: Router }).router;
    if (!router) continue;
    for (const layer of router.stack) {
      if (layer.methods.length === 0 || typeof layer.path !== "string") continue;
      routes.push({ path: layer.path, methods: [...layer.methods] });
    }
  }
  return routes;
}
