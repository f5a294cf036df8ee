import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent, buildConnector, type Dispatcher } from "undici";
import { PermanentError, type ErrorCode } from "@veriflow/errors";
import { redactUrl } from "@veriflow/platform";
import { isPublicAddress } from "./ip-address.js";

/**
 * HTTP plumbing for fetching untrusted URLs: a keep-alive undici Agent whose connections
 * can only reach public addresses (SSRF guard), and a GET with a deadline and a size cap.
 *
 * The guard runs where the socket is made, for every new connection (so for every
 * redirect hop): IP literals are refused before connecting, names are resolved by a
 * lookup that refuses private answers, and the address actually connected to is checked
 * once more. A pooled connection was checked when it was opened, so DNS rebinding cannot
 * redirect it later.
 */

export interface GuardedAgentOptions {
  /** Hosts exempt from the guard: "name", "ip", "name:port", "[v6]:port". */
  allowedPrivateHosts: readonly string[];
  connectTimeoutMs: number;
  /** DNS lookup to use, guarded unless the host is allow-listed (defaults to dns.lookup). */
  lookup?: LookupFunction;
  /** What a refusal is: its code and the setting that would allow the host (default: a manifest's, ALLOWED_PRIVATE_HOSTS). */
  refusal?: GuardRefusal;
  /** Most connections to one origin; more requests wait for one (default: no cap). */
  connectionsPerOrigin?: number;
}

export interface GuardRefusal {
  code: "E_MANIFEST_HOST_NOT_ALLOWED" | "E_RPC_HOST_NOT_ALLOWED";
  allowSetting: string;
}

const MANIFEST_REFUSAL: GuardRefusal = { code: "E_MANIFEST_HOST_NOT_ALLOWED", allowSetting: "ALLOWED_PRIVATE_HOSTS" };

/** A keep-alive agent that refuses connections to non-public addresses. */
export function createGuardedAgent(opts: GuardedAgentOptions): Agent {
  const allowed = new Set(opts.allowedPrivateHosts.map(normalizeAllowEntry).filter((e) => e !== ""));
  const lookup = opts.lookup ?? dnsLookup;
  const connectOpts = { timeout: opts.connectTimeoutMs, keepAlive: true };
  const direct = buildConnector({ ...connectOpts, lookup });
  const refusal = opts.refusal ?? MANIFEST_REFUSAL;
  const hostNotAllowed = (host: string) =>
    new PermanentError(
      refusal.code,
      // Never the address it resolved to: that would map the internal network for the client.
      `refusing to connect to ${host}: it resolves to a non-public address (an operator can allow the host with ${refusal.allowSetting})`,
    );
  const guarded = buildConnector({ ...connectOpts, lookup: guardLookup(lookup, hostNotAllowed) });

  const connect: buildConnector.connector = (options, callback) => {
    const host = normalizeHost(options.hostname);
    const port = Number(options.port) || (options.protocol === "https:" ? 443 : 80);
    if (allowed.has(host) || allowed.has(`${host}:${port}`)) return direct(options, callback);
    if (isIP(host) !== 0 && !isPublicAddress(host)) return callback(hostNotAllowed(host), null);
    guarded(options, (...args) => {
      const [err, socket] = args;
      if (err) return callback(err, null);
      const peer = socket.remoteAddress;
      if (peer === undefined || !isPublicAddress(peer)) {
        socket.destroy();
        return callback(hostNotAllowed(host), null);
      }
      callback(null, socket);
    });
  };
  return createAgent(connect, opts.connectionsPerOrigin);
}

/** A plain keep-alive agent (for operator-configured endpoints such as IPFS gateways). */
export function createDirectAgent(connectTimeoutMs: number): Agent {
  return createAgent(buildConnector({ timeout: connectTimeoutMs, keepAlive: true }));
}

function createAgent(connect: buildConnector.connector, connections?: number): Agent {
  return new Agent({ connect, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, ...(connections ? { connections } : {}) });
}

function guardLookup(lookup: LookupFunction, hostNotAllowed: (host: string) => PermanentError): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    lookup(hostname, { ...options, all: true }, (err, result) => {
      if (err) return callback(err);
      const addresses = result as unknown as LookupAddress[];
      if (addresses.length === 0 || addresses.some((a) => !isPublicAddress(a.address))) return callback(hostNotAllowed(hostname));
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as LookupFunction;
}

/** Lower-case, no brackets, no trailing dot; IP literals in the WHATWG URL canonical form. */
function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase().replace(/\.$/, "");
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  try {
    const canonical = new URL(`http://${isIP(h) === 6 ? `[${h}]` : h}/`).hostname;
    return canonical.startsWith("[") ? canonical.slice(1, -1) : canonical;
  } catch {
    return h;
  }
}

function normalizeAllowEntry(entry: string): string {
  const e = entry.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(e);
  if (bracketed) return bracketed[2] ? `${normalizeHost(bracketed[1]!)}:${bracketed[2]}` : normalizeHost(bracketed[1]!);
  const hostPort = /^([^:]+):(\d+)$/.exec(e);
  if (hostPort) return `${normalizeHost(hostPort[1]!)}:${hostPort[2]}`;
  return e === "" ? "" : normalizeHost(e);
}

export interface BoundedRequestOptions {
  signal: AbortSignal;
  /** Idle limit between bytes (the signal carries the overall deadline). */
  timeoutMs: number;
  maxBytes: number;
  /** Error code used when the body exceeds maxBytes. */
  tooLargeCode: ErrorCode;
  headers: Record<string, string>;
  method?: "GET" | "POST";
  body?: Uint8Array | string;
  /** Read the body of every answer (a JSON-RPC error comes in a 4xx or 5xx body); by default only a 2xx's. */
  readEveryBody?: boolean;
}

export type BoundedGetOptions = Omit<BoundedRequestOptions, "method" | "body" | "readEveryBody">;

export interface BoundedResponse {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  /** The whole body (of a 2xx, or of any answer with readEveryBody); null otherwise (the body is discarded). */
  body: Uint8Array | null;
}

/** GET without following redirects; the body of a 2xx is read up to maxBytes. */
export function boundedGet(dispatcher: Dispatcher, url: URL, opts: BoundedGetOptions): Promise<BoundedResponse> {
  return boundedRequest(dispatcher, url, opts);
}

/**
 * One request without following redirects (a redirect is answered as it is, for the caller
 * to judge), with a deadline and an idle limit, whose body is read up to maxBytes.
 */
export async function boundedRequest(dispatcher: Dispatcher, url: URL, opts: BoundedRequestOptions): Promise<BoundedResponse> {
  const res = await dispatcher.request({
    origin: url.origin,
    path: url.pathname + url.search,
    method: opts.method ?? "GET",
    headers: opts.headers,
    body: opts.body,
    signal: opts.signal,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  });
  const { statusCode: status, headers, body } = res;
  if (!opts.readEveryBody && (status < 200 || status >= 300)) {
    await body.dump({ limit: 64 * 1024, signal: opts.signal }).catch(() => {});
    return { status, headers, body: null };
  }
  const tooLarge = () =>
    new PermanentError(opts.tooLargeCode, `${redactUrl(url.origin + url.pathname)} is larger than the limit of ${opts.maxBytes} bytes`);
  const declared = Number(headers["content-length"]);
  if (declared > opts.maxBytes) {
    body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > opts.maxBytes) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return { status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total) };
}

/**
 * The guard's allow-list as a predicate, for checking a URL before anything connects
 * (e.g. a webhook URL at registration): same entry forms and normalization as
 * createGuardedAgent's `allowedPrivateHosts`.
 */
export function createHostAllowList(entries: readonly string[]): (host: string, port: number) => boolean {
  const allowed = new Set(entries.map(normalizeAllowEntry).filter((e) => e !== ""));
  return (host, port) => {
    const h = normalizeHost(host);
    return allowed.has(h) || allowed.has(`${h}:${port}`);
  };
}
