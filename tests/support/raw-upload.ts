/** A multipart upload written by hand over node:http: part order, pace and declared length under the test's control. */
import { request, type IncomingHttpHeaders } from "node:http";

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface RawUpload {
  /** The answer, as soon as the server sends it (possibly long before the body is sent). */
  response: Promise<RawAnswer>;
  /** Writes `n` more bytes of the file part; false once the server answered or the connection closed. */
  send(n: number): Promise<boolean>;
  /** Writes the rest of the file and the closing boundary. */
  finish(): Promise<void>;
  /** File bytes written so far. */
  readonly sent: number;
}

/**
 * Opens a POST of `fields` and a `fileSize`-byte file part (fields first unless
 * `fieldsAfterFile`), with its Content-Length declared up front, and writes only the
 * fields and the file part's header until told to send more.
 */
export function openUpload(
  url: string,
  opts: { fields: Record<string, string>; fileSize: number; headers?: Record<string, string>; fieldsAfterFile?: boolean; fill?: number },
): RawUpload {
  const boundary = `----veriflow-test-${Math.random().toString(16).slice(2)}`;
  const fieldParts = Object.entries(opts.fields)
    .map(([name, value]) => `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
    .join("");
  const fileHead = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="upload.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`;
  const head = Buffer.from(opts.fieldsAfterFile ? fileHead : fieldParts + fileHead);
  const tail = Buffer.from(opts.fieldsAfterFile ? `\r\n${fieldParts}--${boundary}--\r\n` : `\r\n--${boundary}--\r\n`);
  const req = request(url, {
    method: "POST",
    headers: { ...opts.headers, "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": String(head.length + opts.fileSize + tail.length) },
  });
  let sent = 0;
  let answered = false;
  let closed = false;
  req.on("error", () => (closed = true)); // the server may cut the connection once it has answered
  req.on("close", () => (closed = true));
  const response = new Promise<RawAnswer>((resolve, reject) => {
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on("error", reject);
    });
    req.on("error", (err) => setTimeout(() => (answered ? undefined : reject(err)), 100));
  });
  response.catch(() => {});
  req.write(head);

  const write = (buf: Buffer) =>
    new Promise<void>((resolve) => {
      if (req.write(buf)) resolve();
      else {
        const done = () => resolve();
        req.once("drain", done);
        req.once("close", done);
        // The server stopped reading: stop waiting for a drain that may never come.
        const poll = setInterval(() => {
          if (answered || closed) {
            clearInterval(poll);
            resolve();
          }
        }, 20);
        req.once("drain", () => clearInterval(poll));
      }
    });

  return {
    response,
    get sent() {
      return sent;
    },
    async send(n) {
      if (answered || closed) return false;
      const size = Math.min(n, opts.fileSize - sent);
      if (size > 0) {
        sent += size;
        await write(Buffer.alloc(size, opts.fill ?? 0x61));
      }
      return !(answered || closed);
    },
    async finish() {
      while (sent < opts.fileSize && (await this.send(1024 * 1024)));
      if (!(answered || closed)) req.end(tail);
    },
  };
}
