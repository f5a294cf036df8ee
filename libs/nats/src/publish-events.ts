import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { encodeEvent, registryChangedSubject, subjectOf, type AnyEnvelope, type Envelope, type RegistryChangedEvent } from "@veriflow/events";
import { context, type Context } from "@veriflow/tracing";
import { setTraceHeaders } from "./trace-headers.js";

/** The CloudEvents source attribute of everything veriflow publishes. */
export const EVENT_SOURCE = "urn:veriflow";

/** CloudEvents 1.0 attributes as headers (the NATS protocol binding), for any envelope. */
function cloudEventHeaders(event: { id: string; type: string; occurredAt: string }, subject: string | null) {
  const h = natsHeaders();
  h.set("content-type", "application/json");
  h.set("ce-specversion", "1.0");
  h.set("ce-type", event.type);
  h.set("ce-source", EVENT_SOURCE);
  h.set("ce-id", event.id);
  h.set("ce-time", event.occurredAt);
  if (subject !== null) h.set("ce-subject", subject);
  return h;
}

/**
 * Publishes events concurrently (one pipelined window, not one awaited round trip per
 * event), each with its id as `Nats-Msg-Id` so the stream drops re-publishes, and with
 * CloudEvents 1.0 attributes as headers (the NATS protocol binding), and the W3C trace
 * context of `ctx` (the active one: the request's, or the span of the event being handled).
 */
export async function publishEvents(
  js: JetStreamClient,
  events: readonly AnyEnvelope[] | readonly Envelope[],
  ctx: Context = context.active(),
  /** How long to wait for the stream's acks (the client's timeout by default): a held submission's attempt. */
  timeoutMs?: number,
): Promise<PubAck[]> {
  return Promise.all(
    events.map((event) => {
      const h = cloudEventHeaders(event, event.correlationId);
      setTraceHeaders(h, ctx);
      return js.publish(subjectOf(event), encodeEvent(event), {
        msgID: event.id,
        headers: h,
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
      });
    }),
  );
}

/** Publishes registry changes on their stream, each with its id (from the log) as `Nats-Msg-Id`. */
export async function publishRegistryChanges(js: JetStreamClient, events: readonly RegistryChangedEvent[]): Promise<PubAck[]> {
  return Promise.all(
    events.map((event) =>
      js.publish(registryChangedSubject(event.data.registryAddress), new TextEncoder().encode(JSON.stringify(event)), { msgID: event.id, headers: cloudEventHeaders(event, null) }),
    ),
  );
}
