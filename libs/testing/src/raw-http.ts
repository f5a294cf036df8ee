import { connect, type Socket } from "node:net";

export interface RawAnswer {
  /** The status of the response, or null when the connection ended without one. */
  status: number | null;
  headers: Record<string, string>;
  /** The body, parsed as JSON when it is JSON. */
  body: unknown;
  /** When the answer (or the close) came, in ms after the request was first written. */
  ms: number;
  /** Whether the server closed the connection. */
  closed: boolean;
}

/**
 * An HTTP/1.1 exchange written byte by byte on a socket to 127.0.0.1: what no well-behaved
 * client sends (a body shorter than its Content-Length, an unparsable method, headers that
 * never end), with the socket then held open, as a stalled or hostile client would.
 * With `keepSending`, more bytes follow at that pace until the exchange ends.
 * Resolves at the first complete response or when the server closes, or after `waitMs`.
 */
export function rawExchange(port: number, request: string | Buffer, waitMs = 10_000, keepSending?: { bytes: string | Buffer; everyMs: number }): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket: Socket = connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(dribble);
      socket.destroy();
      resolve({ ...parse(received), ms: Date.now() - started, closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (isComplete(received)) finish(false);
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.write(request);
    // More bytes at a pace (a slow-loris): headers that never end, a body that barely moves.
    const dribble = keepSending ? setInterval(() => socket.writable && socket.write(keepSending.bytes), keepSending.everyMs) : undefined;
  });
}

function isComplete(bytes: Buffer): boolean {
  const end = bytes.indexOf("\r\n\r\n");
  if (end === -1) return false;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(bytes.subarray(0, end).toString("latin1"));
  return length !== null && bytes.length >= end + 4 + Number(length[1]);
}

function parse(bytes: Buffer): Omit<RawAnswer, "ms" | "closed"> {
  const end = bytes.indexOf("\r\n\r\n");
  if (end === -1) return { status: null, headers: {}, body: null };
  const [statusLine = "", ...lines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  const text = bytes.subarray(end + 4).toString("utf8");
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the text
  }
  return { status: Number(statusLine.split(" ")[1]) || null, headers, body };
}
