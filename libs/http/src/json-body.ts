import type { Context } from "koa";
import { HttpError, badRequest } from "@veriflow/errors";

/**
 * A small JSON request body (a subscription, a key request), read with a bound: 415 unless
 * it is application/json, 413 past `maxBytes`, 400 E_INVALID_JSON when it does not parse.
 */
export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
  if (!ctx.is("application/json")) throw new HttpError("E_UNSUPPORTED_MEDIA_TYPE", "send application/json");
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw new HttpError("E_PAYLOAD_TOO_LARGE", `the body is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks, total).toString("utf8"));
  } catch {
    throw badRequest("E_INVALID_JSON", "the body is not valid JSON");
  }
}
