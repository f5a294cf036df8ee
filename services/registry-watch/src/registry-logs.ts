import { contentRegistryInterface } from "@veriflow/contracts";
import type { RegistryChangeKind } from "@veriflow/events";
import type { Log } from "ethers";
import type { RegistryLog } from "./read-window.js";

/** The registry events that change what a verification reads (DOMAIN.md), by the change they make. */
const kinds: Record<string, RegistryChangeKind> = {
  ContentRegistered: "registered",
  ManifestUpdated: "manifest_updated",
  EntryRevoked: "revoked",
};

/** The topics getLogs filters on: any of the three events (the first topic is the event's). */
export const changeTopics: string[] = Object.keys(kinds).map((name) => contentRegistryInterface.getEvent(name)!.topicHash);

export interface LogReader {
  getLogs(filter: { address: string; fromBlock: number; toBlock: number; topics: (string | string[] | null)[] }): Promise<readonly Log[]>;
}

/** The registry's change logs in [fromBlock, toBlock], decoded with the ABI compiled from its one source. */
export async function readRegistryLogs(reader: LogReader, address: string, fromBlock: number, toBlock: number): Promise<RegistryLog[]> {
  const logs = await reader.getLogs({ address, fromBlock, toBlock, topics: [changeTopics] });
  const out: RegistryLog[] = [];
  for (const log of logs) {
    const parsed = contentRegistryInterface.parseLog({ topics: [...log.topics], data: log.data });
    const kind = parsed ? kinds[parsed.name] : undefined;
    if (!parsed || !kind) continue;
    out.push({
      blockNumber: log.blockNumber,
      blockHash: log.blockHash.toLowerCase(),
      logIndex: log.index,
      txHash: log.transactionHash.toLowerCase(),
      contentHash: String(parsed.args.getValue("contentHash")).toLowerCase(),
      kind,
      manifestURI: kind === "revoked" ? "" : String(parsed.args.getValue("manifestURI")),
    });
  }
  return out;
}
