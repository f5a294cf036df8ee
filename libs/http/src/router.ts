import { METHODS } from "node:http";
import { Router, type RouterOptions } from "@koa/router";
import type { Middleware } from "koa";

/**
 * A router for an edge: every request method Node's parser accepts (TRACE, PROPFIND, …)
 * counts as implemented, so a method a route does not take is answered by
 * `methodsNotAllowed` with 405 and `Allow`, never 501. (@koa/router answers 501 for any
 * method outside its seven defaults, whatever the path.) A method Node does not parse never
 * reaches a router: listen() answers it 501 E_NOT_IMPLEMENTED.
 */
export function createRouter(opts: Omit<RouterOptions, "methods"> = {}): Router {
  return new Router({ ...opts, methods: [...METHODS] });
}

/**
 * After `router.routes()`: 405 with `Allow` for a known path and another method, 200 with
 * `Allow` for OPTIONS; the error handler renders the 405's body. Not thrown: a thrown
 * 405 from @koa/router carries no `Allow` header.
 */
export function methodsNotAllowed(router: Router): Middleware {
  return router.allowedMethods({ throw: false }) as Middleware;
}
