import { createSseParser, type SseEvent } from "@veriflow/events";

/** One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export interface ServerSentEvent {
  event: string;
  data: string;
  id: string | null;
}

/** Parses a text/event-stream body into events; comments (":" lines, heartbeats) are skipped. */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  const parse = createSseParser();
  const toEvent = (e: SseEvent): ServerSentEvent => ({ event: e.event, data: e.data, id: e.id ?? null });
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    for (const e of parse(decoder.decode(chunk, { stream: true }))) yield toEvent(e);
  }
}
