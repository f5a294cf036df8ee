import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Command } from "../args.js";
import { DEFAULT_URL } from "../defaults.js";
import { UnreachableError, UsageError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import { shellQuote } from "../format.js";
import { printJson, type Io } from "../io.js";
import { loadLocalStack } from "../local-stack.js";

type DevPublishCommand = Extract<Command, { kind: "dev-publish" }>;

/**
 * `veriflow dev publish <file>`: what a creator does, against the local stack: hash the file,
 * sign a manifest with a dev key, serve it from the dev manifest server, register it on the
 * dev chain (or move its manifest URI when this key registered it before).
 */
export async function runDevPublish(cmd: DevPublishCommand, io: Io): Promise<number> {
  const needsStack = !(cmd.rpcUrl && cmd.registry && cmd.manifestServer);
  const stack = needsStack ? await loadLocalStack(cmd.dataDir) : null;
  const rpcUrl = cmd.rpcUrl ?? stack!.rpcUrl;
  const registry = cmd.registry ?? stack?.registry;
  const manifestServer = (cmd.manifestServer ?? stack!.manifestServerUrl).replace(/\/+$/, "");
  if (!registry) throw new UsageError("the local stack runs no dev chain of its own (RPC_URL was set): pass --registry <address>");
  const say = (line: string) => !cmd.common.quiet && io.stderr.write(`${line}\n`);

  // Loaded here, not at start-up: the other commands need no crypto or chain libraries.
  const [{ createContentHasher, createSignedManifest }, chain] = await Promise.all([import("@veriflow/verify"), import("../dev-chain.js")]);

  const contentHash = await hashFile(cmd.file, createContentHasher());
  say(`hashed       ${cmd.file}: ${contentHash}`);
  const chainId = stack?.chainId ?? (await chain.readChainId(rpcUrl));
  const manifest = createSignedManifest({ contentHash, privateKey: cmd.key, chainId });
  const manifestUri = cmd.ipfs
    ? ((await send(`${manifestServer}/ipfs`, "POST", JSON.stringify(manifest))) as { uri: string }).uri
    : ((await send(`${manifestServer}/manifests/${contentHash.slice(2, 18)}.json`, "PUT", JSON.stringify(manifest))) as { uri: string }).uri;
  say(`manifest     signed by ${manifest.creator_did}, served at ${manifestUri}`);
  const registration = await chain.registerOrUpdate({ rpcUrl, chainId, registry, privateKey: cmd.key, contentHash, manifestUri });
  say(`registry     ${registration.action} at ${registry}${registration.txHash ? ` (tx ${registration.txHash}, block ${registration.blockNumber})` : ""}`);

  const gatewayUrl = stack?.gatewayUrl ?? cmd.common.url;
  const urlArg = gatewayUrl !== (io.env.VERIFLOW_URL ?? DEFAULT_URL) ? ` --url ${shellQuote(gatewayUrl)}` : "";
  const verifyCommand = `veriflow verify ${shellQuote(cmd.file)} --manifest ${shellQuote(manifestUri)} --registry ${registry}${urlArg} --wait`;
  if (cmd.common.json) {
    printJson(io, { file: cmd.file, contentHash, manifestUri, manifest, registry, chainId, rpcUrl, creator: registration.creator, registration, verifyCommand });
  } else {
    io.stdout.write(`\nPublished. Verify it with:\n\n  ${verifyCommand}\n\n`);
  }
  return EXIT.OK;
}

async function hashFile(file: string, hasher: { update(chunk: Uint8Array): unknown; digest(): string }): Promise<string> {
  try {
    if (!(await stat(file)).isFile()) throw new UsageError(`${file} is not a file`);
    for await (const chunk of createReadStream(file)) hasher.update(chunk as Buffer);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return hasher.digest();
}

/** A request to the dev manifest server's write routes. */
async function send(url: string, method: "PUT" | "POST", body: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { method, body, headers: { "content-type": "application/json" } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new UnreachableError(`the dev manifest server at ${new URL(url).origin} is not reachable (${cause?.code ?? (err as Error).message}): is \`npm start\` running?`);
  }
  const text = await res.text();
  if (res.status !== 201) throw new UnreachableError(`the dev manifest server answered ${res.status} to ${method} ${new URL(url).pathname}: ${text.trim().slice(0, 200)}`);
  return JSON.parse(text);
}
