/**
 * Watches a multipart body on its way into busboy, for what busboy lets through without a
 * word, so the gateway can refuse it at once (400) instead of parsing on:
 *
 * - bytes before the first boundary delimiter. RFC 2046 calls them a preamble and busboy
 *   skips them; no form client sends one, and a body that opens with a wrong delimiter is
 *   then read as fields and a file part that may never end (a client that stalls there
 *   held its request open until the server's timeout, and its upload with it);
 * - a part without `Content-Disposition: form-data; name="…"` (RFC 7578 requires both):
 *   busboy drops a part whose disposition is missing, does not parse or is not form-data,
 *   and multer refuses a nameless one only once it has the whole part.
 *
 * It only looks: busboy still parses the body, and the delimiter rule is busboy's (the
 * boundary after CRLF; `--` after it ends the body, CRLF after it starts a part's headers).
 * A leading CRLF before the first delimiter is tolerated, as busboy does.
 */
export type FramingCheck = (chunk: Buffer) => void;

/** busboy's own cap on a part's header block; past it busboy refuses the body itself. */
const MAX_HEADER_BYTES = 16 * 1024;
const CRLF = Buffer.from("\r\n");
const HEADERS_END = Buffer.from("\r\n\r\n");
const EMPTY = Buffer.alloc(0);

export function createFramingCheck(boundary: string, refuse: (message: string) => void): FramingCheck {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const n = delimiter.length;
  let mode: "first" | "line" | "headers" | "data" | "done" = "first";
  let held: Buffer = CRLF; // bytes carried to the next chunk; the body is read as if after a CRLF
  let part = 0;

  const stop = (message?: string): number => {
    mode = "done";
    if (message !== undefined) refuse(message);
    return 0;
  };

  /** In part data: where the next delimiter ends in `buf` (it may straddle the previous chunk), or -1. */
  const findDelimiter = (buf: Buffer, at: number): number => {
    if (held.length > 0) {
      const seam = Buffer.concat([held, buf.subarray(at, at + n - 1)]);
      const i = seam.indexOf(delimiter);
      if (i !== -1) return at + i + n - held.length;
    }
    const i = buf.indexOf(delimiter, at);
    if (i !== -1) return i + n;
    held = buf.length - at >= n - 1 ? buf.subarray(buf.length - (n - 1)) : Buffer.concat([held, buf.subarray(at)]).subarray(-(n - 1));
    return -1;
  };

  /** The small steps (delimiter, the line after it, a header block): bytes of `acc` consumed, or -1 for more. */
  const smallStep = (acc: Buffer): number => {
    if (mode === "first") {
      if (acc.length < n + 2) return -1;
      if (acc.subarray(0, n).equals(delimiter)) return ((mode = "line"), n);
      if (acc.subarray(0, 2).equals(CRLF) && acc.subarray(2, 2 + n).equals(delimiter)) return ((mode = "line"), 2 + n);
      return stop(`the body does not start with the boundary delimiter "--${boundary}" (bytes before it are refused)`);
    }
    if (mode === "line") {
      if (acc.length < 2) return -1;
      if (acc[0] === 0x2d && acc[1] === 0x2d) return stop(); // the closing delimiter; an epilogue may follow
      if (acc[0] === 0x0d && acc[1] === 0x0a) return ((mode = "headers"), 2);
      return ((mode = "data"), 0); // part data that only looked like a delimiter
    }
    const end = acc.indexOf(HEADERS_END);
    if (end === -1) return acc.length > MAX_HEADER_BYTES ? stop() : -1; // past it busboy refuses the body
    part += 1;
    const problem = dispositionProblem(acc.subarray(0, end).toString("latin1"));
    if (problem !== null) return stop(`part ${part} ${problem}: every part needs Content-Disposition: form-data; name="…"`);
    mode = "data";
    return end + HEADERS_END.length;
  };

  return (chunk) => {
    let buf = chunk;
    let at = 0;
    while (mode !== "done") {
      if (mode === "data") {
        const end = findDelimiter(buf, at);
        if (end === -1) return;
        held = EMPTY;
        mode = "line";
        at = end;
        continue;
      }
      const acc = held.length > 0 ? Buffer.concat([held, buf.subarray(at)]) : buf.subarray(at);
      held = EMPTY;
      const used = smallStep(acc);
      if (used === -1) {
        held = Buffer.from(acc); // a copy: small (a delimiter line or a header block)
        return;
      }
      buf = acc;
      at = used;
    }
  };
}

/** Why a part's header block does not name a form-data part, or null when it does. */
function dispositionProblem(headers: string): string | null {
  const line = headers.split("\r\n").find((h) => /^content-disposition\s*:/i.test(h));
  if (line === undefined) return "has no Content-Disposition header";
  const value = line.slice(line.indexOf(":") + 1).trim();
  if (!/^form-data\s*(;|$)/i.test(value)) return "is not form-data";
  const name = /;\s*name\*?\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s"]+))/i.exec(value);
  if (name === null || (name[1] ?? name[2] ?? "") === "") return "has no name";
  return null;
}
