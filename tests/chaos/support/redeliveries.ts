import { STREAM_NAME, pipeline, type ServiceName } from "@veriflow/events";
import type { NatsClients } from "@veriflow/nats";

/** One consumer's second deliveries: all of them, and the ones its loop asked for (nak'ed retries). */
export interface Redelivered {
  redelivered: number;
  retried: number;
}

/**
 * Messages each consumer received more than once, from JetStream's own counts once the
 * drain is over: deliveries made (`delivered.consumer_seq`, redeliveries included) minus the
 * distinct messages on its filter. Beside it, the retries its service's loop asked for
 * (`veriflow_messages_handled_total{outcome="retry"}`: a nak after a failed attempt, e.g. a
 * manifest fetch that timed out). The difference was not asked for: an ack wait that ran out
 * on a consumer still alive, or deliveries a client dropped.
 */
export async function countRedeliveries(client: NatsClients, opsPorts: Record<ServiceName, readonly number[]>): Promise<Record<string, Redelivered>> {
  const consumers = [...pipeline.stages, ...pipeline.observers];
  const counts: Record<string, Redelivered> = {};
  for (const c of consumers) {
    const info = await client.jsm.consumers.info(STREAM_NAME, c.durable).catch(() => null);
    if (!info) continue;
    const filters = info.config.filter_subjects ?? (info.config.filter_subject ? [info.config.filter_subject] : [">"]);
    let distinct = 0;
    for (const filter of filters) {
      const stream = await client.jsm.streams.info(STREAM_NAME, { subjects_filter: filter });
      distinct += Object.values(stream.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    }
    counts[c.durable] = { redelivered: info.delivered.consumer_seq - distinct, retried: await retriesOfReplicas(opsPorts[c.service as ServiceName], c.durable) };
  }
  return counts;
}

/** The retries a consumer's loop made, from its service's /metrics (0 when it does not answer). */
/** Every replica's retries together: they share the consumer. */
async function retriesOfReplicas(opsPorts: readonly number[], durable: string): Promise<number> {
  const each = await Promise.all(opsPorts.map((port) => retriesOf(port, durable)));
  return each.reduce((a, b) => a + b, 0);
}

async function retriesOf(opsPort: number, durable: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${opsPort}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => "");
  const line = text.split("\n").find((l) => l.startsWith("veriflow_messages_handled_total{") && l.includes(`consumer="${durable}"`) && l.includes('outcome="retry"'));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

/** Second deliveries nobody asked for, over every consumer. */
export const unaskedRedeliveries = (counts: Record<string, Redelivered>): number =>
  Object.values(counts).reduce((sum, c) => sum + Math.max(0, c.redelivered - c.retried), 0);
