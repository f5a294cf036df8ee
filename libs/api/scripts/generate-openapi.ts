/**
 * Writes the published REST contract, docs/openapi.json, from the route list and zod schemas
 * of libs/api (the gateway serves the same document at /openapi.json).
 *
 *   tsx libs/api/scripts/generate-openapi.ts          write docs/openapi.json
 *   tsx libs/api/scripts/generate-openapi.ts --check  exit 1 if it is stale
 */
import { fileURLToPath } from "node:url";
import { runGenerator, staleFiles } from "../../../scripts/generated-files.js";
import { renderOpenApiDocument } from "../src/document.js";

export const OPENAPI_FILE = fileURLToPath(new URL("../../../docs/openapi.json", import.meta.url));

const files = () => [{ path: OPENAPI_FILE, render: renderOpenApiDocument }];

/** Whether docs/openapi.json is what the sources generate now. */
export async function isOpenApiFileCurrent(): Promise<boolean> {
  return (await staleFiles(files())).length === 0;
}

await runGenerator(import.meta.url, "generate:openapi", files);
