import { connectContentRegistry } from "@veriflow/contracts";
import { JsonRpcProvider, Wallet } from "ethers";
import { UnreachableError, UsageError } from "./errors.js";

export interface Registration {
  /** What happened on chain: a new entry, its manifest URI moved, or nothing to do. */
  action: "registered" | "updated" | "unchanged";
  creator: string;
  txHash: string | null;
  blockNumber: number | null;
}

const connect = (rpcUrl: string, chainId?: number) =>
  new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: chainId !== undefined, batchMaxCount: 1, pollingInterval: 100 });

/** Wraps what ethers throws for an unreachable node into an UnreachableError with a hint. */
async function onChain<T>(rpcUrl: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError || err instanceof UnreachableError) throw err;
    const e = err as { shortMessage?: string; message: string };
    throw new UnreachableError(`the dev chain at ${rpcUrl} failed: ${e.shortMessage ?? e.message.split("\n")[0]}`, { cause: err });
  }
}

export async function readChainId(rpcUrl: string): Promise<number> {
  const provider = connect(rpcUrl);
  try {
    return await onChain(rpcUrl, async () => Number((await provider.send("eth_chainId", [])) as string));
  } finally {
    provider.destroy();
  }
}

/**
 * Registers `contentHash` with `manifestUri` as the key's account; when that account registered
 * it before, moves its manifest URI instead (a dev re-publishes the same file). Someone else's
 * or a revoked entry is left alone.
 */
export async function registerOrUpdate(input: {
  rpcUrl: string;
  chainId: number;
  registry: string;
  privateKey: string;
  contentHash: string;
  manifestUri: string;
}): Promise<Registration> {
  const provider = connect(input.rpcUrl, input.chainId);
  try {
    return await onChain(input.rpcUrl, async () => {
      const wallet = new Wallet(input.privateKey, provider);
      if ((await provider.getCode(input.registry)) === "0x") throw new UsageError(`no contract at ${input.registry} on ${input.rpcUrl}: is this the dev chain's registry?`);
      const registry = connectContentRegistry(input.registry, wallet);
      const [creator, timestamp, uri] = (await registry.getFunction("entries")(input.contentHash)) as [string, bigint, string];
      const mine = creator.toLowerCase() === wallet.address.toLowerCase();
      if (timestamp !== 0n && !mine) throw new UsageError(`${input.contentHash} is already registered by ${creator}, not by ${wallet.address}`);
      if (timestamp !== 0n && uri === "") throw new UsageError(`${input.contentHash} was revoked by ${creator}; a revoked entry stays revoked`);
      if (timestamp !== 0n && uri === input.manifestUri) return { action: "unchanged", creator, txHash: null, blockNumber: null };
      const fn = timestamp === 0n ? "register" : "updateManifest";
      const tx = await registry.getFunction(fn)(input.contentHash, input.manifestUri);
      const receipt = await tx.wait();
      return { action: timestamp === 0n ? "registered" : "updated", creator: wallet.address, txHash: receipt.hash, blockNumber: receipt.blockNumber };
    });
  } finally {
    provider.destroy();
  }
}
