import { z } from "zod";
import { RegistryChanged } from "./catalog.js";
import { uuidOf } from "./envelope.js";

/**
 * A `registry.changed` event: the envelope of a job event without the job's fields
 * (correlation, causation, run, tenant), since a registry log belongs to no job.
 */
export interface RegistryChangedEvent {
  id: string;
  type: "registry.changed";
  occurredAt: string;
  data: RegistryChanged;
}

export const RegistryChangedEnvelope = z.object({
  id: z.string().min(1),
  type: z.literal("registry.changed"),
  occurredAt: z.iso.datetime({ offset: true }),
  data: RegistryChanged,
});

/**
 * The id of the event for one log: from its block hash and index, so reading the log again
 * (a restart, the re-read of the last blocks) publishes the same Nats-Msg-Id, while the same
 * transaction mined into another block after a reorganisation is a new log and a new event.
 * A log that left the chain gets an id of its own (`removed`).
 */
export function registryChangeId(blockHash: string, logIndex: number, removed = false): string {
  return uuidOf(`${blockHash.toLowerCase()}\u0000${logIndex}${removed ? "\u0000removed" : ""}`);
}

export function createRegistryChangedEvent(data: RegistryChanged, now: Date = new Date()): RegistryChangedEvent {
  const parsed = RegistryChanged.parse(data);
  return { id: registryChangeId(parsed.blockHash, parsed.logIndex, parsed.removed), type: "registry.changed", occurredAt: now.toISOString(), data: parsed };
}
