/** One Server-Sent Event: its `event` name (default "message"), `data` lines joined, and `id`. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * An incremental SSE parser (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * feed it text as it arrives, get back the events completed so far. Comments (heartbeats) are
 * dropped. Pure and dependency-free, so the CLI (`jobs watch`) and the dashboard's fetch-based
 * reader (the key goes in a header, which EventSource cannot send) share it; the dashboard
 * imports this file alone, not the package.
 */
export function createSseParser(): (chunk: string) => SseEvent[] {
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  return (chunk) => {
    buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const nl = buffer.search(/\r\n|\r|\n/);
      // A CR at the very end may be the first half of a CRLF split across chunks: wait for the next.
      if (nl < 0 || (nl === buffer.length - 1 && buffer.endsWith("\r"))) break;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (data.length > 0) out.push({ event: event || "message", data: data.join("\n"), ...(id !== undefined ? { id } : {}) });
        event = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    return out;
  };
}
