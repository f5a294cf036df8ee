import type { EnvReader } from "./config.js";

/**
 * How a service reaches NATS: the servers, who it is, and TLS. Read here, once, for every
 * service (readCommonConfig); `connectNats` turns it into connect() options. Plain data,
 * no NATS client: files named here (seed, creds, TLS) are read when connecting.
 */
export interface NatsConnectionConfig {
  /** The servers, comma-separated, without credentials: safe to log. */
  url: string;
  /** Null: connect anonymously (a server without accounts, `npm start`, tests). */
  auth: NatsAuth | null;
  /** Null: TLS only if the server requires it (with the system's CAs). */
  tls: NatsTls | null;
}

/** One way of proving who the service is; the server's config says which it accepts. */
export type NatsAuth =
  | { kind: "password"; user: string; password: string }
  | { kind: "token"; token: string }
  | { kind: "nkey"; seed: string }
  | { kind: "nkey-file"; seedFile: string }
  | { kind: "creds"; credsFile: string };

/** PEM files; an empty object still asks for TLS (a `tls://` URL). */
export interface NatsTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** `scheme://userinfo@host:port`, each part but the host optional. */
const SERVER = /^(?:([a-z]+):\/\/)?(?:([^@/]*)@)?([^@/]+)\/?$/i;

/**
 * Reads `NATS_URL` (credentials in it, `nats://user:pass@host` or `nats://token@host`, are
 * taken out: nats.js would silently ignore them), `NATS_USER` / `NATS_PASSWORD`, `NATS_TOKEN`,
 * `NATS_NKEY_SEED` / `NATS_NKEY_SEED_FILE`, `NATS_CREDS_FILE` (one of these at most) and
 * `NATS_TLS_CA` / `NATS_TLS_CERT` / `NATS_TLS_KEY`. Problems never quote a secret.
 */
export function readNatsConnectionConfig(r: EnvReader): NatsConnectionConfig {
  const servers = parseServers(r.string("NATS_URL", DEFAULT_NATS_URL), r.problems);
  const auth = readAuth(r, servers.userInfo);
  const tls = readTls(r, servers.tlsScheme);
  return { url: servers.hosts.join(","), auth, tls };
}

interface ParsedServers {
  hosts: string[];
  /** The credentials written in the URL(s), if any (the same in each). */
  userInfo: string | null;
  tlsScheme: boolean;
}

function parseServers(raw: string, problems: string[]): ParsedServers {
  const parsed: ParsedServers = { hosts: [], userInfo: null, tlsScheme: false };
  const userInfos = new Set<string>();
  for (const [i, entry] of raw.split(",").map((s) => s.trim()).filter(Boolean).entries()) {
    const m = SERVER.exec(entry);
    const scheme = m?.[1]?.toLowerCase() ?? "nats";
    if (!m || !["nats", "tls"].includes(scheme)) {
      problems.push(`NATS_URL: server ${i + 1} must look like nats://host:port or tls://host:port`);
      continue;
    }
    if (scheme === "tls") parsed.tlsScheme = true;
    if (m[2] !== undefined) userInfos.add(m[2]);
    parsed.hosts.push(`${scheme}://${m[3]}`);
  }
  if (parsed.hosts.length === 0 && problems.length === 0) problems.push("NATS_URL names no server");
  if (userInfos.size > 1) problems.push("NATS_URL: every server must carry the same credentials (or set NATS_USER / NATS_PASSWORD instead)");
  parsed.userInfo = [...userInfos][0] ?? null;
  return parsed;
}

function readAuth(r: EnvReader, userInfo: string | null): NatsAuth | null {
  const found: { source: string; auth: NatsAuth }[] = [];
  if (userInfo !== null) found.push({ source: "credentials in NATS_URL", auth: fromUserInfo(userInfo) });
  const user = r.string("NATS_USER");
  const password = r.string("NATS_PASSWORD");
  if (user !== undefined && password !== undefined) found.push({ source: "NATS_USER", auth: { kind: "password", user, password } });
  else if (user !== undefined) r.problems.push("NATS_USER is set without NATS_PASSWORD");
  else if (password !== undefined) r.problems.push("NATS_PASSWORD is set without NATS_USER");
  const token = r.string("NATS_TOKEN");
  if (token !== undefined) found.push({ source: "NATS_TOKEN", auth: { kind: "token", token } });
  const seed = r.string("NATS_NKEY_SEED");
  if (seed !== undefined) found.push({ source: "NATS_NKEY_SEED", auth: { kind: "nkey", seed } });
  const seedFile = r.string("NATS_NKEY_SEED_FILE");
  if (seedFile !== undefined) found.push({ source: "NATS_NKEY_SEED_FILE", auth: { kind: "nkey-file", seedFile } });
  const credsFile = r.string("NATS_CREDS_FILE");
  if (credsFile !== undefined) found.push({ source: "NATS_CREDS_FILE", auth: { kind: "creds", credsFile } });
  // Two ways at once would leave which one the server checks to the client library: refuse.
  if (found.length > 1) r.problems.push(`NATS credentials are given more than one way (${found.map((f) => f.source).join(", ")}): set one`);
  return found[0]?.auth ?? null;
}

/** `user:password` is a user, a lone value a token (NATS's own URL convention); both percent-decoded. */
function fromUserInfo(userInfo: string): NatsAuth {
  const colon = userInfo.indexOf(":");
  if (colon < 0) return { kind: "token", token: safeDecode(userInfo) };
  return { kind: "password", user: safeDecode(userInfo.slice(0, colon)), password: safeDecode(userInfo.slice(colon + 1)) };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function readTls(r: EnvReader, tlsScheme: boolean): NatsTls | null {
  const tls: NatsTls = {};
  const caFile = r.string("NATS_TLS_CA");
  const certFile = r.string("NATS_TLS_CERT");
  const keyFile = r.string("NATS_TLS_KEY");
  if (caFile !== undefined) tls.caFile = caFile;
  if (certFile !== undefined) tls.certFile = certFile;
  if (keyFile !== undefined) tls.keyFile = keyFile;
  // A client certificate is a pair: one half alone fails at the handshake, later and less clearly.
  if ((certFile === undefined) !== (keyFile === undefined)) r.problems.push("NATS_TLS_CERT and NATS_TLS_KEY must be set together");
  return tlsScheme || Object.keys(tls).length > 0 ? tls : null;
}

/** Who the service connects as, for its log: never a secret. */
export function describeNatsAuth(auth: NatsAuth | null): string {
  if (auth === null) return "anonymous";
  switch (auth.kind) {
    case "password":
      return `user ${auth.user}`;
    case "token":
      return "token";
    case "nkey":
      return "nkey seed";
    case "nkey-file":
      return `nkey seed file ${auth.seedFile}`;
    case "creds":
      return `creds file ${auth.credsFile}`;
  }
}
