import { describe, expect, it } from "vitest";
import { isOpenApiFileCurrent } from "../scripts/generate-openapi.js";
import { buildOpenApiDocument, toOpenApiPath } from "./document.js";
import { createOpenApiAjv } from "./openapi-ajv.fixture.js";
import { apiRoutes } from "./routes.js";

const doc = buildOpenApiDocument() as any;
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, op]) => ({ path, method, op })),
);

/** Every `$ref` in `value`, with where it was found. */
function refsIn(value: unknown, at = "#"): { ref: string; at: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refsIn(v, `${at}/${i}`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => (k === "$ref" && typeof v === "string" ? [{ ref: v, at }] : refsIn(v, `${at}/${k}`)));
}

function resolve(ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  return ref
    .slice(2)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<any>((node, key) => (node === undefined ? undefined : node[key]), doc);
}

describe("the OpenAPI document", () => {
  it("is committed current: docs/openapi.json is what the sources generate (npm run generate:openapi)", async () => {
    expect(await isOpenApiFileCurrent()).toBe(true);
  });

  it("has what OpenAPI 3.1 requires of a document and of each operation", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    expect(operations.length).toBe(apiRoutes.length);
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(Object.keys(op.responses ?? {}).length, where).toBeGreaterThan(0);
      for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
        expect(status, where).toMatch(/^[1-5]\d\d$/);
        expect(typeof response.description, `${where} ${status}`).toBe("string");
      }
      // Every {name} of the path is a required path parameter, and no other is declared.
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p: any) => p.in === "path");
      expect(declared.map((p: any) => p.name).sort(), where).toEqual([...inPath].sort());
      for (const p of declared) expect(p.required, `${where} ${p.name}`).toBe(true);
      for (const name of Object.keys(op.security?.[0] ?? {})) expect(doc.components.securitySchemes[name], where).toBeDefined();
    }
  });

  it("names each operation once", () => {
    const ids = operations.map(({ op }) => op.operationId as string);
    expect(ids.every(Boolean)).toBe(true);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it("resolves every $ref", () => {
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter(({ ref }) => resolve(ref) === undefined)).toEqual([]);
  });

  it("holds only valid JSON Schema 2020-12: every schema compiles (strict ajv)", () => {
    const { validatorAt } = createOpenApiAjv(doc);
    for (const name of Object.keys(doc.components.schemas)) expect(() => validatorAt(["components", "schemas", name]), name).not.toThrow();
    for (const { path, method, op } of operations) {
      for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
        for (const type of Object.keys(response.content ?? {})) {
          expect(() => validatorAt(["paths", path, method, "responses", status, "content", type, "schema"]), `${method} ${path} ${status}`).not.toThrow();
        }
      }
    }
  });

  it("writes route paths as OpenAPI templates", () => {
    expect(toOpenApiPath("/api/webhooks/:id/deliveries")).toBe("/api/webhooks/{id}/deliveries");
    expect(toOpenApiPath("/openapi.json")).toBe("/openapi.json");
  });
});
