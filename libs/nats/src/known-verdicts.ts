import { createHash } from "node:crypto";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { KNOWN_VERDICTS_BUCKET, KnownVerdict, type KnownVerdictQuestion } from "@veriflow/events";
import type { KnownVerdictReader } from "@veriflow/pipeline";

/**
 * The known verdicts (KNOWN_VERDICTS_BUCKET), one record per question:
 * `<registry>.<content hash>.<tenant>.<job type>.<sha-256 of the manifest URI>`, registry and
 * hash lower-case. Registry and hash lead, so every record of one entry is one subject filter
 * (`forget` purges them with one call); the URI is hashed, since a key's tokens cannot hold it.
 */
export function knownVerdictKey(q: KnownVerdictQuestion): string {
  const uri = createHash("sha256").update(q.manifestUri).digest("hex");
  return `${q.registryAddress.toLowerCase()}.${q.contentHash.toLowerCase()}.${q.tenant}.${q.jobType}.${uri}`;
}

const subjectOfEntry = (registryAddress: string, contentHash: string) => `$KV.${KNOWN_VERDICTS_BUCKET}.${registryAddress.toLowerCase()}.${contentHash.toLowerCase()}.>`;

export interface KnownVerdictStore extends KnownVerdictReader {
  /** Records a verdict, unless the question's record was decided at a later block. */
  record(question: KnownVerdictQuestion, verdict: KnownVerdict): Promise<void>;
  /** Forgets every recorded verdict of a registry entry (its entry changed). */
  forget(registryAddress: string, contentHash: string): Promise<void>;
}

export function createKnownVerdictStore(kv: KV, jsm?: JetStreamManager): KnownVerdictStore {
  const find = async (q: KnownVerdictQuestion): Promise<KnownVerdict | null> => {
    const entry = await kv.get(knownVerdictKey(q));
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return null;
    // A record that no longer parses (written by another version) is as good as none.
    const parsed = KnownVerdict.safeParse(entry.json());
    return parsed.success ? parsed.data : null;
  };
  return {
    find,
    async record(q, verdict) {
      const current = await find(q);
      if (current && current.decidedAtBlock > verdict.decidedAtBlock) return;
      await kv.put(knownVerdictKey(q), JSON.stringify(verdict));
    },
    async forget(registryAddress, contentHash) {
      if (!jsm) throw new Error("forget needs the JetStream manager");
      await jsm.streams.purge(`KV_${KNOWN_VERDICTS_BUCKET}`, { filter: subjectOfEntry(registryAddress, contentHash) });
    },
  };
}
