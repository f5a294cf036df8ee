// The one SSE parser, shared with the CLI: this file alone (no zod, nothing else of the package).
import { createSseParser } from "../../../libs/events/src/sse-parser.js";

/**
 * The dashboard's one way to the REST API: same origin (the gateway serves both), the user's
 * API key in the `x-api-key` header of every call (kept in sessionStorage: gone with the tab,
 * never in a URL), errors as the API states them ({ error: { code, message } }).
 */

const KEY_STORAGE = "veriflow.apiKey";

/** The key this tab holds: null when none was entered yet, "" for open development access (no key sent). */
export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}
export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

/** An answer other than 2xx: its HTTP status and the API's error code and message. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

/** A message a person can act on, for the codes the dashboard meets most. */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  if (err.status === 401) return "This API key is not valid (or expired). Enter another key.";
  if (err.status === 403) return `This API key lacks the scope for that: ${err.message}`;
  if (err.status === 429 || err.status === 503) return `${err.message}${err.retryAfter ? ` (try again in ${err.retryAfter} s)` : ""}`;
  return `${err.message} (${err.code})`;
}

async function toError(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get("retry-after"));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    return new ApiError(res.status, body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? res.statusText, retryAfter);
  } catch {
    return new ApiError(res.status, `HTTP_${res.status}`, res.statusText || `HTTP ${res.status}`, retryAfter);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = storedKey();
  return { accept: "application/json", ...(key ? { "x-api-key": key } : {}), ...extra };
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: headers(), ...(signal ? { signal } : {}) });
  if (!res.ok) throw await toError(res);
  return (await res.json()) as T;
}

/** A FormData body goes as multipart (the browser sets its boundary), anything else as JSON. */
async function send(method: "POST" | "DELETE", path: string, body?: FormData | object): Promise<Response> {
  const init: RequestInit =
    body === undefined
      ? { method, headers: headers() }
      : body instanceof FormData
        ? { method, headers: headers(), body }
        : { method, headers: headers({ "content-type": "application/json" }), body: JSON.stringify(body) };
  const res = await fetch(path, init);
  if (!res.ok) throw await toError(res);
  return res;
}

export async function postJson<T>(path: string, body?: FormData | object): Promise<T> {
  return (await (await send("POST", path, body)).json()) as T;
}

/** A DELETE, whose answer (204) has no body. */
export async function deleteResource(path: string): Promise<void> {
  await send("DELETE", path);
}

/**
 * Reads a Server-Sent Events route with fetch (EventSource cannot send the key header): calls
 * `onEvent` for each event until the stream ends or `signal` aborts. Rejects with an ApiError
 * when the route answers an error instead of a stream.
 */
export async function readEvents(path: string, onEvent: (event: string, data: unknown) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { headers: headers({ accept: "text/event-stream" }), signal });
  if (!res.ok || !res.body) throw await toError(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parse = createSseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const e of parse(value)) onEvent(e.event, JSON.parse(e.data));
    }
  } finally {
    reader.releaseLock();
  }
}
