import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * `<dataDir>/local-stack.json`: how tools on this machine (the `veriflow` CLI's `dev publish`)
 * find the running local stack. Written once the stack is ready, removed when it stops; a file
 * left by a crashed stack points at ports nobody answers, which its readers report as such.
 * No secrets: the dev chain's keys are public, API keys are not written.
 */
export interface LocalStackFile {
  version: 1;
  /** Process id of `npm start`. */
  pid: number;
  gatewayUrl: string;
  rpcUrl: string;
  /** Null when RPC_URL points at a chain this stack did not start (nothing deployed by it). */
  chainId: number | null;
  registry: string | null;
  /** The dev manifest server: GET/PUT /manifests/<name>, POST /ipfs, GET /ipfs/<cid> (loopback only). */
  manifestServerUrl: string;
  startedAt: string;
}

export const LOCAL_STACK_FILE = "local-stack.json";

export async function writeLocalStackFile(dataDir: string, info: Omit<LocalStackFile, "version" | "pid" | "startedAt">): Promise<string> {
  const path = join(dataDir, LOCAL_STACK_FILE);
  const doc: LocalStackFile = { version: 1, pid: process.pid, ...info, startedAt: new Date().toISOString() };
  await mkdir(dataDir, { recursive: true });
  await writeFile(path, `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}

export async function removeLocalStackFile(dataDir: string): Promise<void> {
  await rm(join(dataDir, LOCAL_STACK_FILE), { force: true });
}
