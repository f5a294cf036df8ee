import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { STREAM_NAME, pipeline, subjectsOf, type EventType } from "@veriflow/events";
import { UPLOAD_CHUNK_BYTES, hashUpload, listDeadLetters, openUploadsBucket, putUpload, readTopologyConfig, type NatsClients, type UploadRef } from "@veriflow/nats";
import { EnvReader, type Env } from "@veriflow/platform";

/** Every durable consumer of the events stream, from the pipeline descriptor: the stages' and the observers'. */
export const durables = [...pipeline.stages.map((s) => s.durable), ...pipeline.observers.map((o) => o.durable)];

/** The durables that see a message of `type`: every observer, and the stage consuming that type. */
export function durablesSeeing(type: string): string[] {
  const stage = pipeline.stages.find((s) => subjectsOf(s.consumes) === subjectsOf(type as EventType));
  return [...(stage ? [stage.durable] : []), ...pipeline.observers.map((o) => o.durable)];
}

/**
 * Waits until no consumer has anything left: nothing pending, nothing delivered and not yet
 * acknowledged (a message naked for a retry counts until it is settled). What is still held
 * when `timeoutMs` is over comes back, per durable.
 */
export async function waitForDrain(jsm: JetStreamManager, timeoutMs: number): Promise<Record<string, { pending: number; ackPending: number }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held: Record<string, { pending: number; ackPending: number }> = {};
    for (const durable of durables) {
      const info = await jsm.consumers.info(STREAM_NAME, durable);
      if (info.num_pending > 0 || info.num_ack_pending > 0) held[durable] = { pending: info.num_pending, ackPending: info.num_ack_pending };
    }
    if (Object.keys(held).length === 0 || Date.now() > deadline) return held;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every dead letter after `after`, as "<durable> <stream seq>" keys, with its reason. */
export async function deadLettersAfter(jsm: JetStreamManager, after: number): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let next: number | null = after;
  while (next !== null) {
    const page = await listDeadLetters(jsm, { after: next, limit: 500 });
    for (const d of page.deadLetters) found.set(`${d.consumer} ${d.streamSeq}`, d.reason);
    next = page.next;
  }
  return found;
}

/**
 * Uploads no input names (one chunk and several), stored before the fuzz: afterwards they
 * must read back whole. Whatever a fuzzed event makes a stage read or delete must be its
 * own job's upload, never another's. `check` answers what went wrong, if anything.
 */
export async function storeBystanderUploads(nats: NatsClients, env: Env): Promise<{ names: string[]; check(): Promise<string[]> }> {
  const bucket = await openUploadsBucket(nats.js, readTopologyConfig(new EnvReader(env)));
  const stored: { ref: UploadRef; sha256Hex: string }[] = [];
  for (const size of [100, UPLOAD_CHUNK_BYTES * 2 + 1]) {
    const bytes = Buffer.alloc(size, size % 251);
    const name = `bystander-${randomUUID()}`;
    const info = await putUpload(nats, name, Readable.from([bytes]));
    stored.push({ ref: { name, size: info.size, nuid: info.nuid, chunks: info.chunks, digest: info.digest }, sha256Hex: `0x${createHash("sha256").update(bytes).digest("hex")}` });
  }
  return {
    names: stored.map((s) => s.ref.name),
    async check() {
      const wrong: string[] = [];
      for (const { ref, sha256Hex } of stored) {
        const read = await hashUpload(nats.js, nats.jsm, bucket, ref).catch((err: Error) => err);
        if (read instanceof Error || read.sha256Hex !== sha256Hex) wrong.push(`the bystander upload ${ref.name} (${ref.chunks} chunks) stored for no input's job reads back as ${read instanceof Error ? read.message : read.sha256Hex}`);
      }
      return wrong;
    },
  };
}
