import { PermanentError, TransientError } from "@veriflow/errors";
import { redactUrl, type Logger } from "@veriflow/platform";
import { inSpan } from "@veriflow/tracing";
import { describeNetworkError } from "../network-error.js";
import { createIpfsReader } from "./ipfs-gateways.js";
import { boundedGet, createDirectAgent, createGuardedAgent } from "./safe-http.js";

export interface ManifestFetchConfig {
  /** Trustless IPFS gateways (base URLs), tried in order. Exempt from the private-host guard. */
  ipfsGateways: string[];
  /** Deadline of one fetch: connect + redirects + whole body (per gateway for ipfs://). */
  timeoutMs: number;
  maxBytes: number;
  allowHttp: boolean;
  /** Hosts ("name", "ip", "host:port", "[v6]:port") exempt from the private-host guard. */
  allowedPrivateHosts: string[];
}

export interface FetchedManifest {
  bytes: Uint8Array;
  /** The CID the bytes were verified against (the URI's root CID) for ipfs://; null otherwise. */
  cid: string | null;
}

export interface ManifestFetcher {
  fetchManifest(uri: string): Promise<FetchedManifest>;
  /** Closes the pooled connections. */
  close(): Promise<void>;
}

const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TRANSIENT_STATUS = (s: number) => s >= 500 || s === 429 || s === 408 || s === 425;

/**
 * Fetches manifest bytes from https://, http:// (when allowed) and ipfs:// URIs.
 * Errors: PermanentError E_MANIFEST_URI_INVALID, E_MANIFEST_URI_NOT_ALLOWED,
 * E_MANIFEST_HOST_NOT_ALLOWED, E_MANIFEST_TOO_LARGE, E_MANIFEST_NOT_FOUND (404/410),
 * E_MANIFEST_TOO_MANY_REDIRECTS, E_MANIFEST_REJECTED (other 4xx), E_CID_MISMATCH and the
 * E_IPFS_* content errors; TransientError E_MANIFEST_UNAVAILABLE (5xx, 429, network,
 * timeout) and E_IPFS_UNAVAILABLE (no gateway could serve the content).
 */
export function createManifestFetcher(config: ManifestFetchConfig, log?: Pick<Logger, "debug" | "warn">): ManifestFetcher {
  const web = createGuardedAgent({ allowedPrivateHosts: config.allowedPrivateHosts, connectTimeoutMs: config.timeoutMs });
  const gatewayAgent = createDirectAgent(config.timeoutMs);
  const ipfs = createIpfsReader({
    gateways: config.ipfsGateways,
    timeoutMs: config.timeoutMs,
    maxBytes: config.maxBytes,
    dispatcher: gatewayAgent,
    log,
  });

  function checkScheme(url: URL, original: string): void {
    if (url.protocol === "https:") return;
    if (url.protocol === "http:") {
      if (config.allowHttp) return;
      throw new PermanentError("E_MANIFEST_URI_NOT_ALLOWED", `http:// manifest URIs are not allowed here (${redactUrl(original)}); use https:// or ipfs://`);
    }
    throw new PermanentError("E_MANIFEST_URI_INVALID", `unsupported manifest URI scheme in ${redactUrl(original)}; use https:// or ipfs://`);
  }

  async function fetchHttp(uri: string): Promise<FetchedManifest> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new PermanentError("E_MANIFEST_URI_INVALID", "the manifest URI is not a valid URI");
    }
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), config.timeoutMs);
    try {
      for (let hop = 0; ; hop++) {
        checkScheme(url, uri);
        const res = await boundedGet(web, url, {
          signal: deadline.signal,
          timeoutMs: config.timeoutMs,
          maxBytes: config.maxBytes,
          tooLargeCode: "E_MANIFEST_TOO_LARGE",
          headers: { accept: "application/json, */*;q=0.5", "user-agent": "veriflow-manifest" },
        });
        if (res.body !== null) return { bytes: res.body, cid: null };
        const { status } = res;
        const location = res.headers.location;
        if (REDIRECTS.has(status) && typeof location === "string") {
          if (hop === MAX_REDIRECTS) {
            throw new PermanentError("E_MANIFEST_TOO_MANY_REDIRECTS", `${redactUrl(uri)}: more than ${MAX_REDIRECTS} redirects`);
          }
          try {
            url = new URL(location, url);
          } catch {
            throw new PermanentError("E_MANIFEST_REJECTED", `${redactUrl(url.href)} redirects to an invalid location`);
          }
          log?.debug({ uri: redactUrl(uri), hop: hop + 1, to: redactUrl(url.href) }, "manifest redirect");
          continue;
        }
        if (status === 404 || status === 410) throw new PermanentError("E_MANIFEST_NOT_FOUND", `${redactUrl(url.href)} answered ${status}: no manifest there`);
        if (TRANSIENT_STATUS(status)) throw new TransientError("E_MANIFEST_UNAVAILABLE", `${redactUrl(url.href)} answered ${status}`);
        throw new PermanentError("E_MANIFEST_REJECTED", `${redactUrl(url.href)} answered ${status}`);
      }
    } catch (err) {
      if (err instanceof PermanentError || err instanceof TransientError) throw err;
      if (deadline.signal.aborted) {
        throw new TransientError("E_MANIFEST_UNAVAILABLE", `${redactUrl(uri)}: no complete answer within ${config.timeoutMs} ms`, { cause: err });
      }
      throw new TransientError("E_MANIFEST_UNAVAILABLE", `${redactUrl(uri)}: ${describeNetworkError(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    fetchManifest(uri) {
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
      // A span per fetch (redirects and gateways tried within it), its URL redacted.
      return inSpan("manifest fetch", { attributes: { "url.full": redactUrl(uri), "url.scheme": scheme ?? "" } }, async (span) => {
        const fetched = scheme === "ipfs" ? await ipfs.readIpfs(uri) : scheme === "https" || scheme === "http" ? await fetchHttp(uri) : null;
        if (!fetched) throw new PermanentError("E_MANIFEST_URI_INVALID", `unsupported manifest URI ${redactUrl(uri)}: use https:// or ipfs://`);
        span?.setAttribute("http.response.body.size", fetched.bytes.length);
        return fetched;
      });
    },
    async close() {
      await Promise.all([web.close(), gatewayAgent.close()]);
    },
  };
}
