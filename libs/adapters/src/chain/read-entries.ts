import {
  contentRegistryInterface,
  decodeEntriesBatchRead,
  decodeEntry,
  encodeEntriesBatchRead,
  type RegistryEntry,
} from "@veriflow/contracts";
import { PermanentError, TransientError } from "@veriflow/errors";
import { isExecutionRevert, toRpcError } from "./rpc.js";

/** A JSON-RPC request, as ethers' `provider.send` makes it. */
export type RpcSend = (method: string, params: unknown[]) => Promise<unknown>;

/**
 * `entries(h)` of a prefix of `hashes` (at least one), all read at one block (`blockTag`, a hex
 * number), so every answer of a batch comes from one state of the chain.
 *
 * One hash is a plain `entries(h)` call to the registry: cheaper for the node than creating the
 * deployless EntriesBatchReader. More hashes are one EntriesBatchReader call; the chain caps its
 * output at 24576 bytes, so long URIs can cut it short (the caller asks again for the rest), and
 * an entry too large for any batch is read on its own.
 *
 * Errors: no code at the address → PermanentError E_REGISTRY_NOT_CONTRACT; `entries()` reverts or
 * answers what does not decode → PermanentError E_REGISTRY_INCOMPATIBLE; anything the node or the
 * network did → TransientError E_RPC_UNAVAILABLE.
 */
export async function readEntriesAt(send: RpcSend, registry: string, hashes: readonly string[], blockTag: string): Promise<RegistryEntry[]> {
  try {
    if (hashes.length === 1) return [await readEntryAt(send, registry, hashes[0]!, blockTag)];
    const answer = (await send("eth_call", [{ data: encodeEntriesBatchRead(registry, hashes) }, blockTag])) as string;
    const { registryIsContract, entries } = decodeEntriesBatchRead(answer);
    if (!registryIsContract) throw notContract(registry);
    return entries.length > 0 ? entries : [await readEntryAt(send, registry, hashes[0]!, blockTag)];
  } catch (err) {
    throw classify(err, registry);
  }
}

async function readEntryAt(send: RpcSend, registry: string, hash: string, blockTag: string): Promise<RegistryEntry> {
  const data = contentRegistryInterface.encodeFunctionData("entries", [hash]);
  const answer = (await send("eth_call", [{ to: registry, data }, blockTag])) as string;
  // An address without code answers every call with nothing, and so may a contract that is not a
  // registry: only the code tells them apart (the batch reader asks the same, as extcodesize).
  if (answer === "0x" && (await send("eth_getCode", [registry, blockTag])) === "0x") throw notContract(registry);
  try {
    return decodeEntry(answer);
  } catch (err) {
    throw incompatible(registry, err);
  }
}

const notContract = (registry: string) =>
  new PermanentError("E_REGISTRY_NOT_CONTRACT", `registry ${registry} is not a contract (no code)`);

const incompatible = (registry: string, cause: unknown) =>
  new PermanentError(
    "E_REGISTRY_INCOMPATIBLE",
    `registry ${registry} is not a ContentRegistry: entries() reverted or returned malformed data`,
    { cause },
  );

function classify(err: unknown, registry: string): PermanentError | TransientError {
  if (isExecutionRevert(err)) return incompatible(registry, err);
  return toRpcError(err, `reading registry ${registry}`);
}
