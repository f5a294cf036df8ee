import { contentRegistryInterface } from "@veriflow/contracts";
import type { RegistryChangeKind } from "@veriflow/events";
import type { Log } from "ethers";

/**
 * The registry logs that change what a verification reads (DOMAIN.md): ContentRegistered,
 * ManifestUpdated, EntryRevoked. One reader for both their users: registry-watch follows a
 * registry's logs window by window; the manifest stage and chain-check ask whether a content hash's entry
 * changed since a known verdict's block.
 */

/** A registry log as read (and as registry-watch keeps it in registry_logs). */
export interface RegistryLog {
  blockNumber: number;
  blockHash: string;
  logIndex: number;
  txHash: string;
  contentHash: string;
  kind: RegistryChangeKind;
  manifestURI: string;
}

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

/**
 * The registry's change logs in [fromBlock, toBlock], decoded with the ABI compiled from its one
 * source; only those of `contentHash` when given (the hash is each event's first indexed topic,
 * so the node filters).
 */
export async function readRegistryLogs(reader: LogReader, address: string, fromBlock: number, toBlock: number, contentHash?: string): Promise<RegistryLog[]> {
  const topics = contentHash === undefined ? [changeTopics] : [changeTopics, contentHash.toLowerCase()];
  const logs = await reader.getLogs({ address, fromBlock, toBlock, topics });
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
