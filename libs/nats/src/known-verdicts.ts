import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { KnownVerdict, type KnownVerdictQuestion } from "@veriflow/events";
import type { KnownVerdictReader } from "@veriflow/pipeline";

/**
 * The known verdicts (KNOWN_VERDICTS_BUCKET), one record per question:
 * `<registry>.<content hash>.<tenant>.<job type>.<sha-256 of the manifest URI>`, registry and
 * hash lower-case. Registry and hash lead, so every record of one entry is one key filter
 * (`forget` lists them with it); the URI is hashed, since a key's tokens cannot hold it.
 */
export function knownVerdictKey(q: KnownVerdictQuestion): string {
  const uri = createHash("sha256").update(q.manifestUri).digest("hex");
  return `${q.registryAddress.toLowerCase()}.${q.contentHash.toLowerCase()}.${q.tenant}.${q.jobType}.${uri}`;
}

const keysOfEntry = (registryAddress: string, contentHash: string) => `${registryAddress.toLowerCase()}.${contentHash.toLowerCase()}.>`;

export interface KnownVerdictStore extends KnownVerdictReader {
  /** Records a verdict, unless the question's record was decided at a later block. */
  record(question: KnownVerdictQuestion, verdict: KnownVerdict): Promise<void>;
  /**
   * Forgets the recorded verdicts of a registry entry decided before `changedAt`, the block of a
   * change to it (Number.MAX_SAFE_INTEGER: all, for a log that left the chain, whose blocks a
   * verdict may have been read on). One decided at or after the change's block has seen it.
   */
  forget(registryAddress: string, contentHash: string, changedAt: number): Promise<number>;
}

export function createKnownVerdictStore(kv: KV): KnownVerdictStore {
  const read = async (key: string): Promise<KnownVerdict | null> => {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return null;
    // A record that no longer parses (written by another version) is as good as none.
    const parsed = KnownVerdict.safeParse(entry.json());
    return parsed.success ? parsed.data : null;
  };
  const find = (q: KnownVerdictQuestion) => read(knownVerdictKey(q));
  return {
    find,
    async record(q, verdict) {
      const current = await find(q);
      if (current && current.decidedAtBlock > verdict.decidedAtBlock) return;
      await kv.put(knownVerdictKey(q), JSON.stringify(verdict));
    },
    async forget(registryAddress, contentHash, changedAt) {
      const keys: string[] = [];
      for await (const key of await kv.keys(keysOfEntry(registryAddress, contentHash))) keys.push(key);
      let forgotten = 0;
      for (const key of keys) {
        const verdict = await read(key);
        if (verdict && verdict.decidedAtBlock >= changedAt) continue;
        await kv.delete(key);
        forgotten++;
      }
      return forgotten;
    },
  };
}
