import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import { isNotFound } from "./nats-errors.js";

/** A stream as the topology wants it: its name and the settings that matter. */
export type WantedStream = Partial<StreamConfig> & { name: string };

/**
 * The shared topology is not as this service is configured: each difference, named, and the
 * way out. Not retried: it does not fix itself (whileUnavailable throws it at once).
 */
export class TopologyMismatchError extends Error {
  override name = "TopologyMismatchError";
  constructor(readonly differences: readonly string[]) {
    super(`the NATS topology is not as configured (NATS_TOPOLOGY=check): ${differences.join("; ")}. Run \`veriflow setup\` with this configuration, or set the same values here`);
  }
}

/** The settings compared: what a service relies on (retention, bounds, replicas, subjects). */
const COMPARED = [
  "subjects",
  "retention",
  "storage",
  "discard",
  "max_age",
  "max_bytes",
  "max_msgs_per_subject",
  "num_replicas",
  "duplicate_window",
  "allow_direct",
] as const satisfies readonly (keyof StreamConfig)[];

/** What differs between a stream's config and the wanted one (empty when it is as wanted). */
export function streamDifferences(actual: StreamConfig, wanted: WantedStream): string[] {
  const out: string[] = [];
  for (const key of COMPARED) {
    const want = wanted[key];
    if (want === undefined) continue;
    const have = actual[key];
    if (JSON.stringify(have) !== JSON.stringify(want)) out.push(`stream ${wanted.name}: ${key} is ${JSON.stringify(have)}, configured ${JSON.stringify(want)}`);
  }
  return out;
}

/** Checks that each stream exists as wanted; throws TopologyMismatchError naming every difference. */
export async function checkStreams(jsm: JetStreamManager, wanted: readonly WantedStream[]): Promise<void> {
  const differences: string[] = [];
  for (const w of wanted) {
    try {
      const { config } = await jsm.streams.info(w.name);
      differences.push(...streamDifferences(config, w));
    } catch (err) {
      if (!isNotFound(err, "stream")) throw err;
      differences.push(`stream ${w.name} does not exist`);
    }
  }
  if (differences.length > 0) throw new TopologyMismatchError(differences);
}
