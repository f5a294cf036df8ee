/** NATS client error names that mean "the server (or JetStream) is not answering", not "your request is wrong". */
const UNAVAILABLE_NAMES = new Set([
  "TimeoutError",
  "NoRespondersError",
  "ClosedConnectionError",
  "DrainingConnectionError",
  "ConnectionError",
  "JetStreamNotEnabled",
]);

const UNAVAILABLE_MESSAGE = /timeout|timed out|no responders|503|connection (closed|draining|refused|lost)|disconnect|jetstream not enabled/i;

/**
 * True when an error (or any error in its `cause` chain) says NATS or JetStream could
 * not be reached: a timeout, no responders, a closed or lost connection. The gateway
 * uses it to switch to its in-process fallback until the queue answers again.
 */
export function isNatsUnavailableError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, message, code } = e as { name?: unknown; message?: unknown; code?: unknown };
    if (typeof name === "string" && UNAVAILABLE_NAMES.has(name)) return true;
    if (code === "503" || code === 503 || code === "TIMEOUT" || code === "ECONNREFUSED" || code === "ECONNRESET") return true;
    if (typeof name === "string" && /^(RequestError|JetStreamError|JetStreamApiError)$/.test(name) && typeof message === "string" && UNAVAILABLE_MESSAGE.test(message)) return true;
  }
  return false;
}
