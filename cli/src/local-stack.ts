import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { UnreachableError } from "./errors.js";

/** `<dataDir>/local-stack.json` as `npm start` writes it (deploy/local/src/local-stack-file.ts). */
export interface LocalStackInfo {
  version: 1;
  pid?: number;
  gatewayUrl: string;
  rpcUrl: string;
  chainId: number | null;
  registry: string | null;
  manifestServerUrl: string;
}

export const LOCAL_STACK_FILE = "local-stack.json";

/** Reads the running local stack's addresses; a missing or unreadable file means no stack runs. */
export async function loadLocalStack(dataDir: string): Promise<LocalStackInfo> {
  const path = join(resolve(dataDir), LOCAL_STACK_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new UnreachableError(`no local stack found (${path} does not exist): start one with \`npm start\`, or pass --data-dir where it keeps its data`);
  }
  let doc: Partial<LocalStackInfo>;
  try {
    doc = JSON.parse(text) as Partial<LocalStackInfo>;
  } catch {
    throw new UnreachableError(`${path} is not valid JSON: restart the local stack (\`npm start\`)`);
  }
  if (doc.version !== 1 || typeof doc.rpcUrl !== "string" || typeof doc.manifestServerUrl !== "string" || typeof doc.gatewayUrl !== "string") {
    throw new UnreachableError(`${path} is not a local-stack file this CLI understands (version ${String(doc.version)})`);
  }
  return doc as LocalStackInfo;
}
