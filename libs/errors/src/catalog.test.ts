import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { errorCatalog, errorCodes, errorSpec, isErrorCode, type ErrorKind, type GrpcStatusName } from "./catalog.js";
import { HttpError, PermanentError, TransientError } from "./errors.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CATALOG = fileURLToPath(new URL("./catalog.ts", import.meta.url));

/** What each kind may answer: the statuses a client reads to decide what to do. */
const allowed: Record<ErrorKind, { http: (s: number) => boolean; grpc: GrpcStatusName[] }> = {
  // 4xx; 501 is the one 5xx a client causes: a request method this server never implements.
  client: {
    http: (s) => (s >= 400 && s < 500) || s === 501,
    // FAILED_PRECONDITION: the request is fine but the resource is not in a state for it (409, 410).
    grpc: ["INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "ALREADY_EXISTS", "ABORTED", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "CANCELLED"],
  },
  permanent: { http: (s) => s === 422, grpc: ["FAILED_PRECONDITION", "INVALID_ARGUMENT"] },
  // 507: a store of ours is full; RESOURCE_EXHAUSTED for a full store or a bound of ours reached.
  transient: { http: (s) => s === 502 || s === 503 || s === 504 || s === 507, grpc: ["UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"] },
  internal: { http: (s) => s === 500, grpc: ["INTERNAL"] },
};

describe("the error catalog", () => {
  it.each(errorCodes)("%s: its kind agrees with its HTTP and gRPC status", (code) => {
    const spec = errorSpec(code);
    expect(code).toMatch(/^E_[A-Z0-9_]+$/);
    expect(allowed[spec.kind].http(spec.http), `${spec.kind} answering HTTP ${spec.http}`).toBe(true);
    expect(allowed[spec.kind].grpc, `${spec.kind} answering gRPC ${spec.grpc}`).toContain(spec.grpc);
    if (spec.http === 504) expect(spec.grpc).toBe("DEADLINE_EXCEEDED");
    if (spec.http === 507) expect(spec.grpc).toBe("RESOURCE_EXHAUSTED");
    if (spec.http === 501 || spec.http === 405) expect(spec.grpc).toBe("UNIMPLEMENTED");
    expect(spec.description).toMatch(/^\S.*[.)]$/);
    expect(spec.description).not.toMatch(/\n/);
  });

  it("answers 500 for a genuine internal fault only, and client kinds never with 5xx but 501", () => {
    expect(errorCodes.filter((c) => errorCatalog[c].http === 500)).toEqual(["E_INTERNAL"]);
    expect(errorCodes.filter((c) => errorCatalog[c].kind === "internal")).toEqual(["E_INTERNAL"]);
    expect(errorCodes.filter((c) => errorCatalog[c].kind === "client" && errorCatalog[c].http >= 500)).toEqual(["E_NOT_IMPLEMENTED"]);
    // A remote party's misbehaviour is a 4xx or a 502, never a 500.
    expect(errorCatalog.E_REGISTRY_INCOMPATIBLE.http).toBe(422);
    expect(errorCatalog.E_MANIFEST_INVALID.http).toBe(422);
  });

  it("gives HttpError the catalog's status, and exposes messages of 4xx only by default", () => {
    for (const code of errorCodes) {
      const err = new HttpError(code, "m", { cause: "why" });
      expect(err).toMatchObject({ name: "HttpError", code, status: errorCatalog[code].http, expose: errorCatalog[code].http < 500, cause: "why" });
    }
    // Every class names itself and keeps its cause (nats.js style).
    expect(new PermanentError("E_MANIFEST_INVALID", "m", { cause: "why" })).toMatchObject({ name: "PermanentError", code: "E_MANIFEST_INVALID", cause: "why" });
    expect(new TransientError("E_RPC_UNAVAILABLE", "m", { cause: "why" })).toMatchObject({ name: "TransientError", code: "E_RPC_UNAVAILABLE", cause: "why" });
    expect(isErrorCode("E_INTERNAL")).toBe(true);
    expect(isErrorCode("E_FROM_A_NEWER_STAGE")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
  });
});

/** Source files of every workspace, tests included, without dependencies and build output. */
async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (["node_modules", "dist", "generated", "data", ".git"].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (/\.(ts|mts|mjs|js)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Codes tests use on purpose because no catalog has them (an unknown stage's code). */
const DELIBERATELY_UNKNOWN = new Set(["E_FROM_A_NEWER_STAGE"]);

describe("codes in the source tree", () => {
  it("are all in the catalog, and every catalog code is used outside it", async () => {
    const files = (await Promise.all(["libs", "services", "cli", "examples", "tests", "deploy", "bench"].map((d) => sourceFiles(join(ROOT, d)).catch(() => [])))).flat();
    const usedIn = new Map<string, string[]>();
    for (const file of files) {
      if (file === CATALOG) continue;
      const text = await readFile(file, "utf8");
      for (const m of text.matchAll(/["'`](E_[A-Z0-9_]+)["'`]/g)) {
        const where = usedIn.get(m[1]!) ?? [];
        where.push(relative(ROOT, file));
        usedIn.set(m[1]!, where);
      }
      // A code assembled from pieces escapes both checks: there is none.
      expect(text, relative(ROOT, file)).not.toMatch(/["'`]E_[A-Z0-9_]*_["'`]|`E_[A-Z0-9_]*\$\{/);
    }
    const unknown = [...usedIn].filter(([code]) => !isErrorCode(code) && !DELIBERATELY_UNKNOWN.has(code));
    expect(unknown, "codes used but not in libs/errors/src/catalog.ts").toEqual([]);
    const inSource = (code: string) => (usedIn.get(code) ?? []).some((f) => !/\.test\.ts$|\.fixture\.ts$/.test(f));
    expect(errorCodes.filter((c) => !inSource(c)), "catalog codes no source file uses").toEqual([]);
  });
});
