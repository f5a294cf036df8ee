import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Router } from "@koa/router";
import type { Context } from "koa";
import { buildOpenApiDocument } from "@veriflow/api";
import { notFound } from "@veriflow/errors";
import { createRouter } from "@veriflow/http";

export const OPENAPI_PATH = "/openapi.json";
export const API_REFERENCE_PATH = "/docs/api";

/**
 * The Swagger UI files the reference page loads, served from the swagger-ui-dist package
 * (no CDN), and its initializer: a file of its own, so the page runs no inline script.
 */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};
const INITIALIZER = "init.js";

/**
 * What the reference page may do: its own scripts and styles (none inline), Swagger UI's
 * data: images, and requests to this origin (/openapi.json, "try it out").
 */
export const API_REFERENCE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>veriflow REST API</title>
<link rel="stylesheet" href="${API_REFERENCE_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="${API_REFERENCE_PATH}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${API_REFERENCE_PATH}/swagger-ui-bundle.js"></script>
<script src="${API_REFERENCE_PATH}/${INITIALIZER}"></script>
</body>
</html>
`;

// validatorUrl null: the page never sends the document to swagger.io's validator.
const initializer = `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(OPENAPI_PATH)}, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null });\n`;

/** swagger-ui-dist's own directory, by its absolutePath() (without loading its 1.5 MB bundle into Node). */
function swaggerUiDir(): string {
  const absolutePath = createRequire(import.meta.url)("swagger-ui-dist/absolute-path.js") as () => string;
  return absolutePath();
}

interface Served {
  body: string | Buffer;
  type: string;
  etag: string;
}

const served = (body: string | Buffer, type: string): Served => ({ body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` });

/** Answers a static body: cacheable, revalidated by its ETag (304 when the client has it). */
function answer(ctx: Context, s: Served, maxAgeSeconds: number): void {
  ctx.set("cache-control", `public, max-age=${maxAgeSeconds}`);
  ctx.set("x-content-type-options", "nosniff");
  ctx.etag = s.etag;
  ctx.type = s.type;
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = s.body;
}

/**
 * GET /openapi.json (the REST API's OpenAPI 3.1 document, built from libs/api once) and GET
 * /docs/api (Swagger UI over it, with its files under /docs/api/…). Mounted before the API-key
 * check: a contract and its reference need no key.
 */
export function createApiDocsRouter(): Router {
  const router = createRouter();
  let document: Served | undefined;
  const files = new Map<string, Promise<Served>>();
  const dir = swaggerUiDir();

  router.get(OPENAPI_PATH, (ctx) => {
    // Built on first use, once (about a second of CPU: not at every start of every gateway);
    // compact, 250 KB (docs/openapi.json is the same document, indented).
    document ??= served(JSON.stringify(buildOpenApiDocument()), "application/json; charset=utf-8");
    answer(ctx, document, 300);
  });

  const pageServed = served(page, "text/html; charset=utf-8");
  const initServed = served(initializer, "text/javascript; charset=utf-8");
  router.get(API_REFERENCE_PATH, (ctx) => {
    ctx.set("content-security-policy", API_REFERENCE_CSP);
    answer(ctx, pageServed, 300);
  });
  router.get(`${API_REFERENCE_PATH}/:file`, async (ctx) => {
    const name = ctx.params.file!;
    if (name === INITIALIZER) return answer(ctx, initServed, 300);
    const type = ASSETS[name];
    if (!Object.hasOwn(ASSETS, name) || type === undefined) throw notFound("E_NOT_FOUND", `no file ${API_REFERENCE_PATH}/${name.slice(0, 64)}`);
    let file = files.get(name);
    if (!file) files.set(name, (file = readFile(join(dir, name)).then((bytes) => served(bytes, type))));
    // The package's files change only with its version: a day in caches.
    answer(ctx, await file, 86_400);
  });
  return router;
}
