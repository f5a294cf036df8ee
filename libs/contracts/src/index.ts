/**
 * @veriflow/contracts: the one place the registry ABI comes from. Everything here is generated
 * from contracts/*.sol by scripts/compile.mjs (`npm run build -w @veriflow/contracts`).
 */
import { ContractFactory, Contract, Interface, type ContractRunner, type Signer } from "ethers";
import {
  contentRegistryAbi,
  contentRegistryBytecode,
  entriesBatchReaderAbi,
  entriesBatchReaderBytecode,
  entriesBatchReaderOutputAbi,
} from "./generated/artifacts.js";

export * from "./generated/artifacts.js";

export const contentRegistryInterface = new Interface(contentRegistryAbi);
const batchReaderInterface = new Interface(entriesBatchReaderAbi);
const batchOutputInterface = new Interface(entriesBatchReaderOutputAbi);

/** One `entries(contentHash)` answer, as stored (DOMAIN.md). */
export interface RegistryEntry {
  creator: string;
  /** Block timestamp in seconds; 0 means "not registered". */
  timestamp: number;
  /** "" when revoked (or not registered). */
  manifestURI: string;
}

/** Deploys a ContentRegistry and waits for it to be mined. */
export async function deployContentRegistry(
  signer: Signer,
): Promise<{ address: string; blockNumber: number; txHash: string; contract: Contract }> {
  const factory = new ContractFactory(contentRegistryAbi, contentRegistryBytecode, signer);
  const deployed = await factory.deploy();
  const receipt = await deployed.deploymentTransaction()?.wait();
  if (!receipt?.contractAddress) throw new Error("ContentRegistry deployment was not mined");
  const address = receipt.contractAddress;
  return {
    address,
    blockNumber: receipt.blockNumber,
    txHash: receipt.hash,
    contract: new Contract(address, contentRegistryAbi, signer),
  };
}

/** A ContentRegistry at `address`, for calls (provider) or transactions (signer). */
export function connectContentRegistry(address: string, runner: ContractRunner): Contract {
  return new Contract(address, contentRegistryAbi, runner);
}

/** Decodes the output of `entries(contentHash)` (a direct eth_call to the registry). */
export function decodeEntry(data: string): RegistryEntry {
  const [creator, timestamp, manifestURI] = contentRegistryInterface.decodeFunctionResult("entries", data);
  return { creator: String(creator), timestamp: Number(timestamp), manifestURI: String(manifestURI) };
}

/** `data` of one deployless eth_call (no `to`) that reads `entries(h)` for every hash. */
export function encodeEntriesBatchRead(registry: string, contentHashes: readonly string[]): string {
  return entriesBatchReaderBytecode + batchReaderInterface.encodeDeploy([registry, contentHashes]).slice(2);
}

/**
 * The result of that eth_call. `entries` covers a prefix of the hashes asked for (the output must fit
 * in 24576 bytes); an empty list for a non-empty request means the first entry alone is too large.
 */
export function decodeEntriesBatchRead(data: string): { registryIsContract: boolean; entries: RegistryEntry[] } {
  const [registryIsContract, entries] = batchOutputInterface.decodeFunctionResult("read", data);
  return {
    registryIsContract: Boolean(registryIsContract),
    entries: Array.from(entries as Iterable<[string, bigint, string]>, ([creator, timestamp, manifestURI]) => ({
      creator,
      timestamp: Number(timestamp),
      manifestURI,
    })),
  };
}

/** The most hashes one batch read may carry: the call data must stay below 49152 bytes (EIP-3860). */
export const MAX_BATCH_READ = 1000;

