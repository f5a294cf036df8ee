import type { JsMsg } from "@nats-io/jetstream";
import type { AnyEnvelope } from "@veriflow/events";
import { ROOT_CONTEXT, SpanKind, runEntrySpan, startEntrySpan, trace, type Tracing } from "@veriflow/tracing";
import { traceContextOfMessage } from "./trace-headers.js";

/** The trace id a message carries, for a log line about it outside its handling; undefined when none. */
export function traceIdOfMessage(msg: Pick<JsMsg, "headers">): string | undefined {
  return trace.getSpanContext(traceContextOfMessage(msg))?.traceId;
}

/**
 * Runs a batch's write in a span (the events of a batch belong to many traces): a child of
 * its first event's trace, linked to every event's; and, once written, one span per event in
 * the event's own trace, linked back to the batch, so each job's trace shows when and in
 * which batch its event was stored. Only while spans are recorded: otherwise `write()` alone.
 */
export async function runTracedBatch<R>(tracing: Tracing, consumer: string, items: readonly { msg: JsMsg; event: AnyEnvelope }[], write: () => Promise<R>): Promise<R> {
  if (!tracing.recording) return write();
  const parents = items.map((i) => traceContextOfMessage(i.msg));
  const links = parents.flatMap((p) => {
    const sc = trace.getSpanContext(p);
    return sc ? [{ context: sc }] : [];
  });
  const startTime = new Date();
  return runEntrySpan(
    tracing,
    `${consumer} batch`,
    { kind: SpanKind.CONSUMER, links, attributes: { "messaging.system": "nats", "messaging.consumer.group.name": consumer, "messaging.batch.message_count": items.length } },
    parents[0] ?? ROOT_CONTEXT,
    async (batch) => {
      const result = await write();
      items.forEach(({ event }, i) => {
        const { span } = startEntrySpan(
          tracing,
          `${consumer} ${event.type}`,
          {
            kind: SpanKind.CONSUMER,
            links: [{ context: batch.spanContext() }],
            attributes: { "messaging.system": "nats", "messaging.consumer.group.name": consumer, "messaging.message.id": event.id, "veriflow.job.id": event.correlationId, "veriflow.event.type": event.type },
            startTime,
          },
          parents[i]!,
        );
        span.end();
      });
      return result;
    },
  );
}
