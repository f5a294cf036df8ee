/**
 * Writes the published REST contract, docs/openapi.json, from the route list and zod schemas
 * of libs/api (the gateway serves the same document at /openapi.json).
 *
 *   tsx libs/api/scripts/generate-openapi.ts          write docs/openapi.json
 *   tsx libs/api/scripts/generate-openapi.ts --check  exit 1 if it is stale
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { renderOpenApiDocument } from "../src/document.js";

export const OPENAPI_FILE = fileURLToPath(new URL("../../../docs/openapi.json", import.meta.url));

/** Whether docs/openapi.json is what the sources generate now. */
export async function isOpenApiFileCurrent(file = OPENAPI_FILE): Promise<boolean> {
  return (await readFile(file, "utf8").catch(() => undefined)) === renderOpenApiDocument();
}

async function main(argv: string[]) {
  if (argv.includes("--check")) {
    if (!(await isOpenApiFileCurrent())) {
      console.error("docs/openapi.json is stale: run `npm run generate:openapi` and commit the result");
      process.exit(1);
    }
    console.log("docs/openapi.json is up to date");
    return;
  }
  await writeFile(OPENAPI_FILE, renderOpenApiDocument());
  console.log("wrote docs/openapi.json");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
