import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface UploadAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * POSTs multipart/form-data: the text fields, then the file streamed from disk with
 * backpressure (node:http; Node 20's fetch buffers a FormData or stream body whole, so a
 * 2 GB upload would take 2 GB of memory). Content-Length is known up front.
 */
export async function postMultipart(url: string, fields: Record<string, string>, file: string, headers: Record<string, string>): Promise<UploadAnswer> {
  return postMultipartFiles(url, Object.entries(fields), [file], headers);
}

/**
 * The same with several `file` parts (a batch), after the fields (a field may repeat:
 * a batch's manifestURI per file). Each file is streamed from disk in turn.
 */
export async function postMultipartFiles(url: string, fields: readonly (readonly [string, string])[], files: readonly string[], headers: Record<string, string>): Promise<UploadAnswer> {
  const boundary = `----veriflow-${randomBytes(12).toString("hex")}`;
  const head = Buffer.from(fields.map(([name, value]) => `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join(""));
  const fileHead = (file: string, first: boolean) =>
    Buffer.from(`${first ? "" : "\r\n"}--${boundary}\r\ncontent-disposition: form-data; name="file"; ${fileNameParams(basename(file))}\r\ncontent-type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const size = files.reduce((n, f, i) => n + fileHead(f, i === 0).length + sizes[i]!, 0);

  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  const req = send(target, {
    method: "POST",
    headers: { ...headers, "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": String(head.length + size + tail.length) },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.on("error", reject); // later errors (a reset after the answer) change nothing
  });
  async function* body() {
    yield head;
    for (const [i, file] of files.entries()) {
      yield fileHead(file, i === 0);
      yield* createReadStream(file);
    }
    yield tail;
  }
  // A server may answer (401, 413, 415) before it has read the body and close the connection:
  // the answer then matters, not the broken pipe.
  const sent = pipeline(Readable.from(body()), req).catch((err: unknown) => err);
  const res = await answered;
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  await Promise.race([sent, new Promise((r) => setTimeout(r, 100))]);
  return { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") };
}

/** `filename="…"` (ASCII fallback) and RFC 5987 `filename*` for any other name. */
function fileNameParams(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return ascii === name ? `filename="${name}"` : `filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
