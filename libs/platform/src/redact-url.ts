/**
 * A URL as it may be written to a log, an error message or a console: RPC_URL, NATS_URL,
 * DATABASE_URL, IPFS gateways, manifest URIs, callback URLs and per-job rpcUrls all carry
 * secrets in practice (`postgres://user:password@…`, `?apikey=…`, Infura's `/v3/<key>`).
 *
 * Kept: scheme, host, port, the path's shape, the query's parameter names. Replaced by
 * `***`: user name and password, every query value, and every path segment that looks like
 * a key (20 or more of [A-Za-z0-9_-] with both letters and digits; a file name has a dot and
 * is kept). The #fragment is dropped. A comma-separated list (NATS_URL, IPFS_GATEWAYS) is
 * redacted entry by entry. Text that is not a URL is not echoed at all: it may be a secret
 * mistyped into the wrong variable.
 */
export function redactUrl(raw: string): string {
  if (raw.includes(",")) return raw.split(",").map((entry) => redactOne(entry.trim())).join(",");
  return redactOne(raw.trim());
}

const HIDDEN = "***";
const KEY_LIKE = /^[A-Za-z0-9_-]{20,}$/;

function redactOne(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw === "" ? "" : "[not a URL]";
  }
  if (url.username !== "") url.username = HIDDEN;
  if (url.password !== "") url.password = HIDDEN;
  if (url.search !== "") {
    const names = [...url.searchParams.keys()];
    url.search = names.map((name) => `${encodeURIComponent(name)}=${HIDDEN}`).join("&");
  }
  url.hash = "";
  if (url.pathname.length > 1) {
    url.pathname = url.pathname
      .split("/")
      .map((segment) => (looksLikeKey(segment) ? HIDDEN : segment))
      .join("/");
  }
  return url.href;
}

function looksLikeKey(segment: string): boolean {
  return KEY_LIKE.test(segment) && /[0-9]/.test(segment) && /[A-Za-z]/.test(segment);
}
