import { connect } from "node:net";

export interface Exchange {
  /** The response's status, or null when none came. */
  status: number | null;
  headers: Record<string, string>;
  /** The body as text (what arrived of it). */
  text: string;
  /** The server closed the connection (before or after its answer). */
  closed: boolean;
  /** No answer and no close within the timeout. */
  timedOut: boolean;
  ms: number;
}

/**
 * Writes raw bytes to 127.0.0.1:`port` and reads one HTTP/1.1 response: its head, then its
 * body as far as Content-Length or the chunked terminator (a stream, `text/event-stream`,
 * and the answer to a HEAD are settled at their head). With `halfClose` the client ends its side after writing, as a
 * client that gives up mid-body does, and keeps reading. Settles within `timeoutMs`.
 */
export function exchange(port: number, request: Buffer, opts: { timeoutMs: number; halfClose: boolean; head: boolean }): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (closed: boolean, timedOut = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponse(received), closed, timedOut, ms: Date.now() - started });
    };
    const timer = setTimeout(() => settle(false, true), opts.timeoutMs);
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (isComplete(received, opts.head)) settle(false);
    });
    socket.on("end", () => settle(true));
    socket.on("close", () => settle(true));
    socket.on("error", () => settle(true));
    socket.write(request, () => {
      if (opts.halfClose) socket.end();
    });
  });
}

function headEnd(bytes: Buffer): number {
  return bytes.indexOf("\r\n\r\n");
}

function isComplete(bytes: Buffer, toHead: boolean): boolean {
  const end = headEnd(bytes);
  if (end === -1) return false;
  const head = bytes.subarray(0, end).toString("latin1");
  if (/^HTTP\/1\.1 1\d\d /.test(head)) return false; // 100 Continue: the answer follows
  if (toHead) return true; // a HEAD's answer has no body, whatever its Content-Length says
  if (/\r\ncontent-type:\s*text\/event-stream/i.test(head)) return true;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) return bytes.length >= end + 4 + Number(length[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return bytes.subarray(end + 4).includes("0\r\n\r\n");
  return /^HTTP\/1\.1 (204|304) /.test(head);
}

function parseResponse(bytes: Buffer): Pick<Exchange, "status" | "headers" | "text"> {
  // Skip interim answers (100 Continue) to the final one.
  let at = 0;
  while (bytes.subarray(at).toString("latin1").startsWith("HTTP/1.1 1")) {
    const end = bytes.indexOf("\r\n\r\n", at);
    if (end === -1) break;
    at = end + 4;
  }
  const rest = bytes.subarray(at);
  const end = headEnd(rest);
  if (end === -1) return { status: null, headers: {}, text: "" };
  const [statusLine = "", ...lines] = rest.subarray(0, end).toString("latin1").split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  let body = rest.subarray(end + 4);
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) body = dechunk(body);
  else if (headers["content-length"] !== undefined) body = body.subarray(0, Number(headers["content-length"])); // what follows is another answer
  return { status: Number(statusLine.split(" ")[1]) || null, headers, text: body.toString("utf8") };
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf("\r\n", at);
    if (eol === -1) break;
    const size = parseInt(body.subarray(at, eol).toString("latin1"), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
