import type { JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { Envelope } from "@veriflow/events";
import { ROOT_CONTEXT, SpanKind, extractTraceContext, injectTraceContext, startEntrySpan, trace, type Context, type Tracing } from "@veriflow/tracing";
import { findLastMessage } from "./stream-lookup.js";

/**
 * W3C trace context in NATS message headers (`traceparent`, `tracestate`): every event a job
 * causes carries its trace. A header that is absent, repeated or malformed is ignored, never
 * a reason to refuse the message.
 */
export function traceContextOfMessage(msg: Pick<JsMsg, "headers">): Context {
  const h = msg.headers;
  if (!h) return ROOT_CONTEXT;
  return extractTraceContext((name) => h.get(name) || undefined);
}

/** Sets the trace context of `ctx` on outgoing headers. */
export function setTraceHeaders(h: MsgHdrs, ctx: Context): void {
  injectTraceContext(ctx, (name, value) => h.set(name, value));
}

/**
 * The span of one consumed event, child of the trace its message carries (or a new trace):
 * named after the consumer and the event, with the job id; outputs published in its
 * context carry the same trace.
 */
export function startMessageSpan(tracing: Tracing, consumer: string, msg: Pick<JsMsg, "headers" | "info">, event: Pick<Envelope, "id" | "type" | "correlationId">) {
  return startEntrySpan(
    tracing,
    `${consumer} ${event.type}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "nats",
        "messaging.consumer.group.name": consumer,
        "messaging.message.id": event.id,
        "messaging.operation.type": "process",
        "veriflow.job.id": event.correlationId,
        "veriflow.event.type": event.type,
        "veriflow.attempt": msg.info.deliveryCount,
      },
    },
    traceContextOfMessage(msg),
  );
}

/**
 * The trace a job's request event carries, read from the stream (a retry of the job goes on
 * in it); null when the stream no longer holds it or it carries none.
 */
export async function findJobTraceContext(jsm: JetStreamManager, jobId: string): Promise<Context | null> {
  const stored = await findLastMessage(jsm, "verification.requested", jobId);
  const h = stored?.header;
  if (!h) return null;
  const ctx = extractTraceContext((name) => h.get(name) || undefined);
  return trace.getSpanContext(ctx) ? ctx : null;
}
