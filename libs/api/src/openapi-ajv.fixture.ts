import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/**
 * An ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) that knows `doc` as
 * `urn:veriflow:openapi`, so any schema in it is compiled by JSON pointer with its $refs
 * resolved: `validatorAt(["paths", "/api/keys", "post", "responses", "201", "content",
 * "application/json", "schema"])`. The OpenAPI-only keywords of a Schema Object are known words.
 */
export function createOpenApiAjv(doc: object) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictTuples: false });
  addFormats.default(ajv); // CommonJS: under NodeNext the default import is module.exports
  // OpenAPI-only keywords, and the document members that hold schemas (not keywords themselves).
  ajv.addVocabulary(["example", "discriminator", "xml", "externalDocs", "components", "paths"]);
  const DOC_ID = "urn:veriflow:openapi";
  ajv.addSchema({ $id: DOC_ID, components: doc["components" as keyof typeof doc] ?? {}, paths: doc["paths" as keyof typeof doc] ?? {} }, undefined, undefined, false);
  const pointer = (path: readonly string[]) => path.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
  return {
    ajv,
    validatorAt: (path: readonly string[]) => ajv.compile({ $ref: `${DOC_ID}#/${pointer(path)}` }),
  };
}
