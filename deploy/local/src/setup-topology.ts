import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * Runs `veriflow setup` (the built CLI) once with the services' env, as a deployment's setup
 * Job does before its services start: the streams, the uploads bucket, every consumer and the
 * schemas, at STREAM_REPLICAS. Services then start with NATS_TOPOLOGY=check. Rejects with the
 * command's output when it fails.
 */
export async function runSetupCommand(env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<void> {
  const child = spawn(process.execPath, ["cli/dist/main.js", "setup"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  for (const stream of [child.stdout, child.stderr]) stream.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`veriflow setup exited with code ${code}: ${output.trim()}`);
  for (const line of output.trim().split("\n")) print(`setup       ${line}`);
}
