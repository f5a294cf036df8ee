import { readdir, readFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Middleware } from "koa";
import { HttpError } from "@veriflow/errors";
import type { Logger } from "@veriflow/platform";

/** Where the dashboard is served; its build (vite `base`) names its assets under it. */
export const DASHBOARD_PATH = "/dashboard";

/** The dashboard's build in this checkout (`npm run build` writes it): web/dashboard/dist. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL("../../../web/dashboard/dist", import.meta.url));

/**
 * Only this origin, for everything: the page's scripts and styles are its own bundled files
 * (no inline script, no CDN), it talks to this gateway only, and no one may frame it.
 * Styles set from scripts (uPlot, Preact's `style` props) go through the CSSOM, which
 * style-src does not govern.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

interface StaticFile {
  body: Buffer;
  type: string;
}

/** The built files by URL path under DASHBOARD_PATH ("/index.html", "/assets/index-3f2a.js"). */
export type DashboardFiles = ReadonlyMap<string, StaticFile>;

/**
 * Reads the build into memory once (a few hundred KB): requests never touch the file system,
 * so no path a client sends can reach a file outside it. Null, with a warning, when it is
 * not built: the API answers as always and /dashboard says what to run.
 */
export async function loadDashboard(dir: string, log: Logger): Promise<DashboardFiles | null> {
  const files = new Map<string, StaticFile>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files.set("/" + relative(dir, path).split(sep).join("/"), { body: await readFile(path), type: TYPES[extname(path)] ?? "application/octet-stream" });
    }
  };
  try {
    await walk(dir);
  } catch (err) {
    log.warn({ err, dir }, "dashboard not built (npm run build); /dashboard answers 404");
    return null;
  }
  if (!files.has("/index.html")) {
    log.warn({ dir }, "dashboard build has no index.html; /dashboard answers 404");
    return null;
  }
  return files;
}

/**
 * GET/HEAD /dashboard and below: public static files, no API key (every call the page makes
 * carries the key its user entered, and is checked as any client's). Hashed assets are
 * cached for a year; index.html, which names them, is revalidated every time; any other
 * path under /dashboard is the single-page app's route and answers index.html.
 */
export function serveDashboard(files: DashboardFiles | null): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== DASHBOARD_PATH && !ctx.path.startsWith(`${DASHBOARD_PATH}/`)) return next();
    if (ctx.method !== "GET" && ctx.method !== "HEAD") {
      ctx.set("allow", "GET, HEAD");
      throw new HttpError("E_METHOD_NOT_ALLOWED", `${ctx.method} is not allowed on ${DASHBOARD_PATH}; allowed: GET, HEAD`);
    }
    ctx.set("content-security-policy", DASHBOARD_CSP);
    ctx.set("x-content-type-options", "nosniff");
    ctx.set("x-frame-options", "DENY");
    ctx.set("referrer-policy", "no-referrer");
    if (!files) throw new HttpError("E_NOT_FOUND", "the dashboard is not built on this gateway: run `npm run build`");
    const sub = ctx.path.slice(DASHBOARD_PATH.length) || "/";
    const asset = sub.startsWith("/assets/") ? files.get(sub) : undefined;
    if (sub.startsWith("/assets/") && !asset) throw new HttpError("E_NOT_FOUND", `no dashboard asset ${sub.slice(0, 100)}`);
    const file = asset ?? files.get(sub === "/" ? "/index.html" : sub) ?? files.get("/index.html")!;
    const isIndex = file === files.get("/index.html");
    ctx.set("cache-control", isIndex ? "no-cache" : asset ? "public, max-age=31536000, immutable" : "public, max-age=3600");
    ctx.type = file.type;
    ctx.body = file.body;
  };
}
