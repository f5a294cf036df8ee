import { STREAM_NAME, pipeline } from "@veriflow/events";
import type { NatsClients } from "@veriflow/nats";

/**
 * Messages each consumer received more than once, from JetStream's own counts once the
 * drain is over: deliveries made (`delivered.consumer_seq`, redeliveries included) minus the
 * distinct messages on its filter. A nak'ed retry, a redelivery after an ack wait and one
 * after a consumer's recreation all count.
 */
export async function countRedeliveries(client: NatsClients): Promise<Record<string, number>> {
  const consumers = [...pipeline.stages, ...pipeline.observers];
  const counts: Record<string, number> = {};
  for (const c of consumers) {
    const info = await client.jsm.consumers.info(STREAM_NAME, c.durable).catch(() => null);
    if (!info) continue;
    const filters = info.config.filter_subjects ?? (info.config.filter_subject ? [info.config.filter_subject] : [">"]);
    let distinct = 0;
    for (const filter of filters) {
      const stream = await client.jsm.streams.info(STREAM_NAME, { subjects_filter: filter });
      distinct += Object.values(stream.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    }
    counts[c.durable] = info.delivered.consumer_seq - distinct;
  }
  return counts;
}
