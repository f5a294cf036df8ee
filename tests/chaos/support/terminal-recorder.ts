import { STREAM_NAME, pipeline, subjectsOf } from "@veriflow/events";
import type { NatsClients } from "@veriflow/nats";
import { jobIdOf, type TerminalEvent } from "./audit.js";

/**
 * Every terminal event the stream stores during a scenario, read as it is stored. The
 * events stream keeps at most max_bytes and discards its oldest (processed) events past
 * that, so a job's ending may be gone from the stream by the time the audit reads it;
 * the recorder has it. Ordered consumers (one per terminal type: nats-server 2.9 has no
 * multiple filter subjects) follow the stream through nats-server restarts by themselves.
 */
export interface TerminalRecorder {
  /** What was recorded so far, by stream sequence. */
  events(): TerminalEvent[];
  stop(): Promise<void>;
}

export async function startTerminalRecorder(client: NatsClients): Promise<TerminalRecorder> {
  const bySeq = new Map<number, TerminalEvent>();
  const stops: (() => Promise<void>)[] = [];
  for (const type of pipeline.terminal) {
    const consumer = await client.js.consumers.get(STREAM_NAME, { filter_subjects: subjectsOf(type) });
    const messages = await consumer.consume();
    stops.push(async () => void (await messages.close()));
    void (async () => {
      for await (const m of messages) {
        bySeq.set(m.seq, { jobId: jobIdOf(m.subject), type, seq: m.seq, data: envelopeData(m.data), eventId: envelopeId(m.data), source: "recorder", storedAt: m.info.timestampNanos / 1e6 });
      }
    })().catch(() => {});
  }
  return {
    events: () => [...bySeq.values()].sort((a, b) => a.seq - b.seq),
    async stop() {
      for (const s of stops) await s().catch(() => {});
    },
  };
}

/** An event's `data`, or null when its bytes are not an envelope (counted as wrong). */
export function envelopeData(bytes: Uint8Array): any {
  return parseEnvelope(bytes)?.data ?? null;
}

/** An event's envelope id (what consumers deduplicate by), or null when its bytes are not an envelope. */
export function envelopeId(bytes: Uint8Array): string | null {
  const id = parseEnvelope(bytes)?.id;
  return typeof id === "string" ? id : null;
}

function parseEnvelope(bytes: Uint8Array): { id?: unknown; data?: unknown } | null {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as { id?: unknown; data?: unknown };
  } catch {
    return null;
  }
}
