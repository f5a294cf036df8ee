/**
 * What a failed connection or request says in a job's failure, a delivery attempt or a log
 * line: its code and a phrase, never the error's own message. Node's and undici's messages
 * name the address they tried ("connect ECONNREFUSED 10.0.0.7:443", a TLS certificate's
 * "IP: 10.0.0.7 is not in the cert's list"), which would tell a client where an allowed
 * internal host lives.
 */
const PHRASES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ECONNABORTED: "connection aborted",
  EPIPE: "connection closed while sending",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed for now",
  UND_ERR_CONNECT_TIMEOUT: "connect timeout",
  UND_ERR_HEADERS_TIMEOUT: "no response headers in time",
  UND_ERR_BODY_TIMEOUT: "the response body stalled",
  UND_ERR_SOCKET: "the connection closed unexpectedly",
  UND_ERR_CLOSED: "the connection was closed",
  UND_ERR_ABORTED: "the request was aborted",
  UND_ERR_RESPONSE_STATUS_CODE: "unexpected response status",
};

export function describeNetworkError(err: unknown): string {
  const code = codeOf(err) ?? codeOf((err as { cause?: unknown } | null)?.cause);
  if (code === undefined) return "the request failed (no error code)";
  if (PHRASES[code]) return `${code} (${PHRASES[code]})`;
  if (/CERT|TLS|SSL/.test(code)) return `${code} (TLS handshake failed)`;
  return code;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[A-Z0-9_]{2,64}$/.test(code) ? code : undefined;
}
