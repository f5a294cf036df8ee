import { METHODS } from "node:http";
import { hostileString, hostileUrl, percentEncode, randomJson, randomUuid } from "./hostile-values.js";
import { fuzzedMultipart, type SubmissionTargets } from "./multipart-bodies.js";
import type { Random } from "./random.js";

/** A route as a service's routers declare it (RunningService.routes). */
export interface Route {
  path: string;
  methods: string[];
}

/** Values that name things that exist, so some requests get past the lookups. */
export interface KnownIds extends SubmissionTargets {
  /** Path parameters by name (jobId, seq, id): ids that exist. */
  params: Record<string, string[]>;
  apiKey: string;
}

export interface FuzzedRequest {
  method: string;
  /** The request bytes. */
  bytes: Buffer;
  /** The client ends its side after writing: the body is cut short (or the request is). */
  halfClose: boolean;
  /** One line for a failure report. */
  summary: string;
}

const QUERY_NAMES = ["limit", "offset", "status", "after", "consumer", "wait", "page_size", "type", "since", "filter", "cursor"];

/** A request to `route`: odd methods, path parameters, queries, headers and bodies, sometimes cut short. */
export function fuzzedRequest(r: Random, route: Route, known: KnownIds): FuzzedRequest {
  const method = fuzzedMethod(r, route);
  const target = fuzzedPath(r, route, known) + fuzzedQuery(r);
  const { contentType, body } = fuzzedBody(r, route, method, known);
  const headers = fuzzedHeaders(r, known, contentType, body.length);
  const version = r.chance(0.03) ? r.pick(["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 x", "HTTP/9.9", ""]) : "HTTP/1.1";
  const head = Buffer.from(`${method} ${target} ${version}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`, "utf8");
  // Cut short: most such clients give up (end their side); some hold the connection, as a
  // stalled one does, and must still get an answer (a 4xx at once, or 408 from the rate limit).
  const cut = body.length > 0 && r.chance(0.08) ? r.int(body.length) : body.length;
  const halfClose = cut < body.length ? r.chance(0.75) : r.chance(0.02);
  const summary = `${method} ${target.length > 160 ? `${target.slice(0, 160)}…(${target.length})` : target} body=${body.length}B${cut < body.length ? ` cut at ${cut}` : ""}${halfClose ? ", client ends its side" : ""} ct=${JSON.stringify(contentType ?? null)?.slice(0, 80)}`;
  return { method, bytes: Buffer.concat([head, body.subarray(0, cut)]), halfClose, summary };
}

function fuzzedMethod(r: Random, route: Route): string {
  const roll = r.next();
  if (roll < 0.8) return r.pick(route.methods);
  if (roll < 0.92) return r.pick(METHODS);
  return r.pick(["get", "FOO", "G ET", "GET\u0000", "POST/", "M-SEARCH", "QUERY", "BREW", "X".repeat(300)]);
}

function fuzzedPath(r: Random, route: Route, known: KnownIds): string {
  let path = route.path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => fuzzedParam(r, known.params[name] ?? []));
  if (r.chance(0.05)) path += r.pick(["/", "//", "/extra", "/..", "/%2e%2e", "?", "#frag", ";a=b"]);
  if (r.chance(0.02)) path = path.replace("/api/", r.pick(["//api/", "/api//", "/API/", "/api/./"]));
  return path;
}

function fuzzedParam(r: Random, known: readonly string[]): string {
  const roll = r.next();
  if (roll < 0.2 && known.length > 0) return percentEncode(r.pick(known));
  if (roll < 0.35) return randomUuid(r);
  if (roll < 0.8) return percentEncode(hostileString(r, r.chance(0.9) ? 300 : 20_000));
  // Raw: only what would end the request line is escaped; bytes past ASCII go as they are.
  return hostileString(r, 300).replace(/[ \r\n?#]/g, (c) => percentEncode(c));
}

function fuzzedQuery(r: Random): string {
  if (r.chance(0.3)) return "";
  if (r.chance(0.05)) return "?" + r.pick(["&&==&", "%", "limit", "limit=", "=5", "a=%E0%A4%A", "&".repeat(2000), `limit=${"9".repeat(5000)}`]);
  const pairs: string[] = [];
  for (let i = r.between(1, 4); i > 0; i--) {
    const name = r.chance(0.85) ? r.pick(QUERY_NAMES) : percentEncode(hostileString(r, 40));
    const key = r.chance(0.1) ? `${name}[]` : r.chance(0.05) ? `${name}[a]` : name;
    const value = r.chance(0.3) ? r.pick(["0", "1", "20", "100", "101", "-1", "completed", "failed", "queued", "processing", "hashing", "true", ""]) : percentEncode(hostileString(r, 300));
    pairs.push(`${key}=${value}`);
    if (r.chance(0.1)) pairs.push(`${key}=${value}`); // an array
  }
  return `?${pairs.join("&")}`;
}

function fuzzedBody(r: Random, route: Route, method: string, known: KnownIds): { contentType: string | undefined; body: Buffer } {
  const isSubmit = /\/(verify|proof)$/.test(route.path);
  const isJsonRoute = route.path === "/api/webhooks" && route.methods.includes("POST");
  const roll = r.next();
  if (isSubmit && method === "POST" && roll < 0.85) return fuzzedMultipart(r, known);
  if (isJsonRoute && roll < 0.85) return fuzzedJson(r, known);
  if (roll < 0.7) return { contentType: undefined, body: Buffer.alloc(0) };
  if (roll < 0.8) return fuzzedJson(r, known);
  if (roll < 0.9) return fuzzedMultipart(r, known);
  return { contentType: r.pick([undefined, "application/octet-stream", "text/plain", "application/json"]), body: r.bytes(r.between(1, 4096)) };
}

/** JSON bodies: not JSON at all, JSON of the wrong shape, or a subscription with hostile field values. */
function fuzzedJson(r: Random, known: KnownIds): { contentType: string | undefined; body: Buffer } {
  const contentType = r.chance(0.85) ? "application/json" : r.pick([undefined, "text/json", "application/json; charset=latin1", "application/merge-patch+json", "application/json; charset=\"", hostileString(r, 60)]);
  switch (r.int(4)) {
    case 0:
      return { contentType, body: Buffer.from(r.pick(["{", "[", "nul", '{"a":', "\u0000", "{}}", '{"url":"\\ud800"}', "1e999999", '"' + "a".repeat(70_000) + '"', "[".repeat(50_000)])) };
    case 1:
      return { contentType, body: Buffer.from(JSON.stringify(randomJson(r)) ?? "null") };
    default: {
      const sub: Record<string, unknown> = {};
      if (r.chance(0.9)) sub.url = r.chance(0.8) ? hostileUrl(r, known.manifestsUrl) : randomJson(r, 1);
      if (r.chance(0.9)) sub.eventTypes = r.chance(0.5) ? [r.pick(["verification.completed", "verification.failed", "content.hashed", hostileString(r, 50)])] : randomJson(r, 2);
      if (r.chance(0.3)) sub.secret = r.chance(0.5) ? hostileString(r, 300) : randomJson(r, 1);
      if (r.chance(0.3)) sub.description = r.chance(0.7) ? hostileString(r, 1000) : randomJson(r, 1);
      if (r.chance(0.1)) sub[hostileString(r, 30)] = randomJson(r, 2);
      return { contentType, body: Buffer.from(JSON.stringify(sub)) };
    }
  }
}

function fuzzedHeaders(r: Random, known: KnownIds, contentType: string | undefined, bodyLength: number): [string, string][] {
  const h: [string, string][] = [["Host", r.chance(0.97) ? "127.0.0.1" : hostileString(r, 100).replace(/[\r\n]/g, "")]];
  if (r.chance(0.85)) h.push(r.chance(0.5) ? ["x-api-key", known.apiKey] : ["authorization", `Bearer ${known.apiKey}`]);
  else if (r.chance(0.5)) h.push([r.pick(["x-api-key", "authorization", "Authorization"]), r.pick(["", "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", known.apiKey + " ", hostileString(r, 200).replace(/[\r\n]/g, "")])]);
  if (contentType !== undefined) h.push(["Content-Type", contentType]);
  const lengthRoll = r.next();
  if (lengthRoll < 0.9) h.push(["Content-Length", String(bodyLength)]);
  else if (lengthRoll < 0.93) h.push(["Content-Length", r.pick(["-1", "abc", "1e3", String(bodyLength + 1_000_000), "0", " ", "99999999999999999999"])]);
  else if (lengthRoll < 0.95) h.push(["Content-Length", String(bodyLength)], ["Content-Length", String(bodyLength + 1)]);
  else if (lengthRoll < 0.97) h.push(["Transfer-Encoding", "chunked"], ["Content-Length", String(bodyLength)]);
  // else: no length at all (a body without framing reads as none)
  for (let i = r.int(3); i > 0; i--) h.push(oddHeader(r, known));
  if (r.chance(0.7)) h.push(["Connection", r.chance(0.95) ? "close" : r.pick(["Upgrade", "keep-alive, Upgrade"])]);
  return h;
}

function oddHeader(r: Random, known: KnownIds): [string, string] {
  const value = () => hostileString(r, 300).replace(/[\r\n]/g, "");
  switch (r.int(13)) {
    case 12:
      return ["Upgrade", r.pick(["websocket", "h2c", "TLS/1.0", value()])];
    case 0:
      return ["X-Request-Id", value()];
    case 1:
      return ["Idempotency-Key", r.chance(0.5) ? value() : "k".repeat(r.between(1, 400))];
    case 2:
      return ["Accept", r.pick(["text/event-stream", "application/xml", "*/*;q=0", "", value()])];
    case 3:
      return ["X-Forwarded-For", r.pick(["1.2.3.4", "garbage", ", ,", "::1, 10.0.0.1", value()])];
    case 4:
      return ["Last-Event-ID", value()];
    case 5:
      return ["Expect", r.pick(["100-continue", "200-ok", value()])];
    case 6:
      return ["X-Huge", "h".repeat(r.between(8 * 1024, 40 * 1024))];
    case 7:
      return [r.pick(["Bad Header", "X-\u0000", "(x)", ":path", "X-Ümlaut"]), "v"];
    case 8:
      return ["Accept-Encoding", r.pick(["gzip", "br", "identity;q=0", "*;q=0", value()])];
    case 9:
      return ["Content-Encoding", r.pick(["gzip", "br", "deflate", "x"])];
    case 10:
      return ["Cookie", value()];
    default:
      return ["X-Api-Key", known.apiKey];
  }
}
