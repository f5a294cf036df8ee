import { createOutboundHostCheck, nonPublicHostMessage } from "../outbound-host.js";
import { MAX_URL_LENGTH } from "../url-length.js";

/** Which RPC endpoints a job may name (RPC_URL, RPC_URL_ALLOWLIST, ALLOWED_PRIVATE_HOSTS; see readChainEndpointConfig). */
export interface RpcUrlPolicy {
  /** The configured endpoint: a job may always name it. */
  rpcUrl: string;
  /** Other endpoints a job may name; "*" allows any; empty allows none but `rpcUrl`. */
  rpcUrlAllowlist: readonly string[];
  /** Non-public hosts an endpoint admitted by "*" may name anyway (ALLOWED_PRIVATE_HOSTS); none by default. */
  allowedPrivateHosts?: readonly string[];
}

export type RpcUrlCheck =
  | { ok: true; url: string }
  | { ok: false; code: "E_INVALID_RPC_URL" | "E_RPC_URL_NOT_ALLOWED" | "E_RPC_URL_HOST_NOT_ALLOWED"; message: string };

/**
 * The endpoint a URL names, in the form URLs are compared in: the WHATWG serialisation,
 * which lower-cases the scheme and host (IDNs in punycode, IPv4 in dotted form), drops a
 * default port and writes an empty path as "/". Path and query are kept exactly: servers
 * tell `/v3/key` from `/v3/key/` and `/Key`, so they are different endpoints.
 * Null for anything that is not an http(s) URL without a #fragment (a fragment is never
 * sent, so it would only make two spellings of one endpoint).
 */
export function normalizeRpcUrl(raw: string): string | null {
  if (raw.length > MAX_URL_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || raw.includes("#")) return null;
  return url.href;
}

/**
 * The one rule for a job's own rpcUrl, applied where it is submitted (gateway, REST and
 * gRPC), where it is used (the chain-check stage) and in the gateway's in-process fallback,
 * so a URL accepted at one is never refused at another. Allowed: the configured RPC_URL and
 * the RPC_URL_ALLOWLIST entries (endpoints the operator named, wherever they are), all
 * compared as normalizeRpcUrl writes them; with "*", any other http(s) URL whose host
 * createOutboundHostCheck does not refuse (a non-public literal or localhost, unless in
 * ALLOWED_PRIVATE_HOSTS). On success `url` is the normalised form.
 */
export function checkRpcUrl(raw: string, policy: RpcUrlPolicy): RpcUrlCheck {
  const url = normalizeRpcUrl(raw);
  if (url === null) {
    return {
      ok: false,
      code: "E_INVALID_RPC_URL",
      message: `"rpcUrl" must be an http(s) URL without a #fragment, at most ${MAX_URL_LENGTH} characters`,
    };
  }
  if (url === normalizeRpcUrl(policy.rpcUrl) || policy.rpcUrlAllowlist.some((entry) => normalizeRpcUrl(entry) === url)) return { ok: true, url };
  if (!policy.rpcUrlAllowlist.includes("*")) {
    return {
      ok: false,
      code: "E_RPC_URL_NOT_ALLOWED",
      message: "this rpcUrl is not allowed by the server's configuration (RPC_URL_ALLOWLIST); omit it to use the configured chain",
    };
  }
  const host = hostCheckOf(policy)(new URL(url));
  if (host !== null) return { ok: false, code: "E_RPC_URL_HOST_NOT_ALLOWED", message: nonPublicHostMessage("rpcUrl", host, "ALLOWED_PRIVATE_HOSTS") };
  return { ok: true, url };
}

/** One host check per policy object: checkRpcUrl runs for every job. */
const hostChecks = new WeakMap<RpcUrlPolicy, ReturnType<typeof createOutboundHostCheck>>();
function hostCheckOf(policy: RpcUrlPolicy): ReturnType<typeof createOutboundHostCheck> {
  let check = hostChecks.get(policy);
  if (!check) hostChecks.set(policy, (check = createOutboundHostCheck(policy.allowedPrivateHosts ?? [])));
  return check;
}

/** RPC_URL_ALLOWLIST entries that are neither "*" nor an endpoint URL, as config problems. */
export function rpcUrlAllowlistProblems(entries: readonly string[]): string[] {
  return entries
    .filter((entry) => entry !== "*" && normalizeRpcUrl(entry) === null)
    .map((entry) => `RPC_URL_ALLOWLIST: "${entry.slice(0, 100)}" is not "*" or an http(s) URL without a #fragment`);
}
